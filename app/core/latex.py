"""Readable HTML for the LaTeX maths that models write, without a TeX engine.

QTextBrowser cannot typeset maths, and raw ``\\frac{\\sqrt{2}}{2}`` is hard to read, so the
common notation becomes Unicode and HTML instead: fractions as a/b, roots as √, powers
and indices as <sup>/<sub>, Greek letters and operators as their symbols, and a
``\\boxed`` answer as a bold marked span. Anything unknown keeps its name without the
backslash. The input is model output, so every character is HTML-escaped and nesting
is capped (a run of ten thousand braces must not overflow Python's stack).
"""

from __future__ import annotations

import html
import re

_MAX_DEPTH = 40
_SIMPLE = re.compile(r"^[\w.\u2032′]{1,6}$")  # a/b needs no brackets for short plain parts

SYMBOLS: dict[str, str] = {
    # operators and relations
    "times": "×", "cdot": "·", "div": "÷", "pm": "±", "mp": "∓", "ast": "∗",
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "neq": "≠", "ne": "≠", "lt": "<",
    "gt": ">", "approx": "≈", "equiv": "≡", "sim": "∼", "simeq": "≃", "cong": "≅",
    "propto": "∝", "ll": "≪", "gg": "≫", "mid": "∣", "parallel": "∥", "perp": "⊥",
    "infty": "∞", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏",
    "int": "∫", "iint": "∬", "oint": "∮", "circ": "∘", "bullet": "•", "degree": "°",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "Leftarrow": "⇐",
    "leftrightarrow": "↔", "Leftrightarrow": "⇔", "iff": "⇔", "implies": "⟹",
    "mapsto": "↦", "uparrow": "↑", "downarrow": "↓",
    "in": "∈", "notin": "∉", "ni": "∋", "subset": "⊂", "subseteq": "⊆", "supset": "⊃",
    "supseteq": "⊇", "cup": "∪", "cap": "∩", "setminus": "∖", "emptyset": "∅",
    "varnothing": "∅", "forall": "∀", "exists": "∃", "neg": "¬", "lnot": "¬",
    "land": "∧", "wedge": "∧", "lor": "∨", "vee": "∨", "oplus": "⊕", "otimes": "⊗",
    "angle": "∠", "triangle": "△", "therefore": "∴", "because": "∵",
    "ldots": "…", "dots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱",
    "prime": "′", "langle": "⟨", "rangle": "⟩", "lceil": "⌈", "rceil": "⌉",
    "lfloor": "⌊", "rfloor": "⌋", "vert": "|", "Vert": "‖", "lvert": "|", "rvert": "|",
    "quad": "\u2003", "qquad": "\u2003\u2003", "hbar": "ℏ", "ell": "ℓ", "aleph": "ℵ",
    "Re": "ℜ", "Im": "ℑ", "star": "⋆", "dagger": "†",
    # Greek
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ",
    "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ",
    "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "varpi": "ϖ", "rho": "ρ", "sigma": "σ", "varsigma": "ς", "tau": "τ",
    "upsilon": "υ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}  # fmt: skip


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTIONS = _words(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln lg exp lim "
    "liminf limsup max min sup inf gcd lcm det dim ker deg arg Pr mod bmod"
)
# Commands that only size or space things: they have no visible content of their own.
IGNORED = _words(
    "left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr displaystyle textstyle "
    "limits nolimits middle cr nonumber notag hfill centering"
)
TEXT_COMMANDS = _words("text textrm mathrm mbox operatorname textnormal mathsf")
BOLD_COMMANDS = _words("mathbf textbf boldsymbol bm")
ITALIC_COMMANDS = _words("mathit textit emph")
_DOUBLE_STRUCK = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "P": "ℙ", "E": "𝔼"}
_ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303",
            "vec": "\u20d7", "dot": "\u0307", "ddot": "\u0308", "bar": "\u0304"}  # fmt: skip
_ESCAPED_CHARS = "{}%$&#_ |"
_SPACES = {",": "\u2009", ";": " ", ":": " ", "!": "", " ": " "}


def latex_to_html(source: str) -> str:
    """HTML (escaped, no tags but sup/sub/b/i/span/br) for one maths expression."""
    return _Parser(source).sequence(0, closing=None)


class _Parser:
    """A recursive-descent reader over one LaTeX string, producing display text."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0

    def sequence(self, depth: int, closing: str | None) -> str:
        """Everything up to the closing brace (consumed) or the end."""
        out: list[str] = []
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if closing is not None and char == closing:
                self.pos += 1
                break
            out.append(self.atom(depth))
        return "".join(out)

    def atom(self, depth: int) -> str:
        char = self.src[self.pos]
        if depth > _MAX_DEPTH:  # give up on structure, but still show the text
            rest = self.src[self.pos :]
            self.pos = len(self.src)
            return html.escape(rest)
        self.pos += 1
        if char == "{":
            return self.sequence(depth + 1, "}")
        if char == "\\":
            return self.command(depth)
        if char in "^_":
            tag = "sup" if char == "^" else "sub"
            inner = self.argument(depth)
            if tag == "sup" and inner in ("∘", "\\circ"):
                return "°"
            return f"<{tag}>{inner}</{tag}>"
        if char == "&":
            return " "  # column separator in aligned environments
        if char == "}":
            return ""  # unbalanced: drop rather than show a stray brace
        if char == "~":
            return " "
        if char.isspace():
            while self.pos < len(self.src) and self.src[self.pos].isspace():
                self.pos += 1
            return " "
        return html.escape(char)

    def argument(self, depth: int) -> str:
        """The next group, command or single character (what ^, _ and \\frac take)."""
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1
        if self.pos >= len(self.src):
            return ""
        return self.atom(depth + 1)

    def raw_group(self) -> str:
        """The text of a {...} group, unparsed (for \\text and environment names)."""
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1
        if self.pos >= len(self.src) or self.src[self.pos] != "{":
            return ""
        level, start = 0, self.pos
        for index in range(self.pos, len(self.src)):
            level += {"{": 1, "}": -1}.get(self.src[index], 0)
            if level == 0:
                self.pos = index + 1
                return self.src[start + 1 : index]
        self.pos = len(self.src)
        return self.src[start + 1 :]

    def optional(self) -> str | None:
        """An optional [...] argument, as in \\sqrt[3]{x}."""
        if self.pos < len(self.src) and self.src[self.pos] == "[":
            end = self.src.find("]", self.pos)
            if end > 0:
                inner = self.src[self.pos + 1 : end]
                self.pos = end + 1
                return _Parser(inner).sequence(0, None)
        return None

    def command(self, depth: int) -> str:
        match = re.compile(r"[A-Za-z]+|.", re.S).match(self.src, self.pos)
        if match is None:
            return "\\"
        name = match.group()
        self.pos = match.end()
        if name == "\\":
            return "<br/>"
        if name in _SPACES:
            return _SPACES[name]
        if len(name) == 1 and name in _ESCAPED_CHARS:
            return html.escape(name)
        return self.named(name, depth)

    def named(self, name: str, depth: int) -> str:
        if name in SYMBOLS:
            return SYMBOLS[name]
        if name in FUNCTIONS:
            return name + " " if name not in ("lim", "max", "min") else name
        if name in IGNORED:
            return ""
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            return _fraction(self.argument(depth), self.argument(depth))
        if name == "binom":
            return f"C({self.argument(depth)}, {self.argument(depth)})"
        if name == "sqrt":
            index = self.optional()
            body = self.argument(depth)
            root = f"<sup>{index}</sup>√" if index else "√"
            return root + (body if _SIMPLE.match(body) else f"({body})")
        if name in ("boxed", "fbox"):
            return f'<span class="boxed"><b>{self.argument(depth)}</b></span>'
        if name in TEXT_COMMANDS:
            return html.escape(self.raw_group())
        if name in BOLD_COMMANDS:
            return f"<b>{self.argument(depth)}</b>"
        if name in ITALIC_COMMANDS:
            return f"<i>{self.argument(depth)}</i>"
        if name in ("mathbb", "mathbbm"):
            body = self.argument(depth)
            return _DOUBLE_STRUCK.get(body, body)
        if name in ("mathcal", "mathfrak", "mathscr"):
            return self.argument(depth)
        if name in _ACCENTS:
            body = self.argument(depth)
            return body + _ACCENTS[name] if len(body) == 1 else body
        if name in ("overline", "underline"):
            style = "overline" if name == "overline" else "underline"
            return f'<span style="text-decoration: {style}">{self.argument(depth)}</span>'
        if name in ("begin", "end"):
            environment = self.raw_group()  # dropped: the rows inside still read fine
            if name == "begin" and environment in ("array", "tabular"):
                self.raw_group()  # the column spec, e.g. {cc}
            return ""
        return f"<i>{html.escape(name)}</i>\u2009"  # unknown: its name, minus the backslash


def _fraction(numerator: str, denominator: str) -> str:
    top = numerator if _SIMPLE.match(numerator) else f"({numerator})"
    bottom = denominator if _SIMPLE.match(denominator) else f"({denominator})"
    return f"{top}/{bottom}"
