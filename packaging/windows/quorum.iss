; Inno Setup script for Quorum's Windows installer.
;   iscc /DAppVersion=0.1.0 packaging\windows\quorum.iss   (after packaging/freeze.sh)
; Input: dist\quorum\ (the PyInstaller folder) and build\vc_redist.x64.exe.
; Output: dist\Quorum-<version>-windows-x64-setup.exe
; Models, settings and history live in the user's AppData folders (platformdirs), not in
; {app}, so uninstalling or upgrading never deletes a downloaded model.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define Root "..\.."

[Setup]
; Never change AppId: upgrades and the uninstaller find earlier installs by it.
AppId={{5AD75F90-CB2D-4F01-A2A0-5290FEF78BB9}
AppName=Quorum
AppVersion={#AppVersion}
AppVerName=Quorum {#AppVersion}
AppPublisher=Quorum developers
DefaultDirName={autopf}\Quorum
DefaultGroupName=Quorum
DisableProgramGroupPage=yes
; Per-user install by default (no admin prompt); the user may choose all users instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SetupIconFile={#Root}\resources\icons\quorum.ico
UninstallDisplayIcon={app}\Quorum.exe
UninstallDisplayName=Quorum
OutputDir={#Root}\dist
OutputBaseFilename=Quorum-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Root}\dist\quorum\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#Root}\build\vc_redist.x64.exe"; DestDir: "{tmp}"; Flags: deleteafterinstall; Check: VCRedistNeeded

[Icons]
Name: "{autoprograms}\Quorum"; Filename: "{app}\Quorum.exe"
Name: "{autodesktop}\Quorum"; Filename: "{app}\Quorum.exe"; Tasks: desktopicon

[Run]
; vcomp140.dll (OpenMP, used by llama.cpp) and the C++ runtime. It asks for elevation
; itself when the install is per-user.
Filename: "{tmp}\vc_redist.x64.exe"; Parameters: "/install /quiet /norestart"; StatusMsg: "Installing the Microsoft Visual C++ runtime..."; Check: VCRedistNeeded; Flags: waituntilterminated
Filename: "{app}\Quorum.exe"; Description: "{cm:LaunchProgram,Quorum}"; Flags: nowait postinstall skipifsilent

[Code]
function VCRedistNeeded(): Boolean;
var
  Installed: Cardinal;
begin
  Result := not (RegQueryDWordValue(HKLM64, 'SOFTWARE\Microsoft\VisualStudio\14.0\VC\Runtimes\x64', 'Installed', Installed) and (Installed = 1));
end;
