"""The help text for the consensus figures (shown by the window's ? button).

It states the exact rules implemented in app.core.consensus.stats and
app.core.answers.grouping; change them together.
"""

from __future__ import annotations

STATS_HELP = """\
## How to read the consensus figures

Consensus mode asks the model the same question N times and compares the final answers.
The figures describe how much those answers agree. They measure the model's *consistency*,
not whether the answer is right: a model can agree with itself on a wrong answer.

**Answer groups.** Answers that mean the same thing are counted together. Quorum compares
them in steps, cheapest first: the same text once case, spacing, bold, `$…$`, `\\boxed{}`
and a final full stop are ignored; the same multiple-choice letter ("B", "(B)", "Option B");
the same number, compared exactly ("1,000" = "1000", "1/2" = "0.5", "$5" = "5 dollars";
units are dropped, not converted, and "50%" counts as 50, not 0.5); finally the same
mathematical value, checked with math-verify ("\\sqrt{25}" = "5", "(x+1)^2" = "x^2+2x+1").
A maths check that takes longer than 2 seconds is abandoned and the answers are kept apart.
A new answer joins the first existing group whose first answer it matches.

**No answer.** A sample whose final answer could not be found goes into its own bucket,
"∅ no answer": it never stated one, or it was cut off (cancelled, or out of tokens or
context) before its answer was finished. A cut-off sample keeps an answer only when that
answer was complete before the cut: a closed `\\boxed{}`, or an answer line ended by a
newline ("Final answer: 17" and then a new line); "… = 1" cut in the middle of "17" is no
answer, not "1". The bucket is always shown and counted in N, never dropped: the figures
say "9 of 16 answered". It is not counted among the *distinct answers*, but it is one
outcome in the entropy. If it is the largest group, no majority answer is named and the
figures say "most samples gave no answer (7 of 12)".

**Majority.** The answer given by the most samples, with its count out of all N. Ties go to
a real answer over "no answer", then to the answer that appeared first, and the tie is
pointed out.

**Agreement.** The leading answer's share of the samples that gave an answer: its count ÷
the number answered, shown with that number ("56% of 9 answered"). With fewer than 2
answered samples no agreement is shown, because one answer always agrees with itself.
When every answered sample gave the same answer, Quorum also shows the largest share any
other answer could have at 95% confidence: 1 − the lower end of the Wilson interval,
rounded up ("16 of 16: any other answer ≤ 20%"; 512 of 512 gives ≤ 0.75%).

**Wilson 95% interval.** The range of agreement values consistent with what was observed,
at 95% confidence: if the same question were run many times, about 95 in 100 such ranges
would contain the model's long-run agreement. It is wide for small N (7 of 10 gives
40%–89%) and narrows as N grows. Unlike the simple "share ± 1.96 × standard error", it never
leaves 0%–100% and stays sensible at 0 of N and N of N. Formula, with p = share and z = 1.96:
centre = (p + z²/2N) / (1 + z²/N), half-width = z / (1 + z²/N) × √(p(1−p)/N + z²/4N²).

**Entropy (bits).** How spread out the answers are, over all N samples (the plug-in
estimate; "0.00 bits" means no disagreement was seen, not that none is possible):
H = −Σ p·log₂ p over the answer groups (the no-answer bucket included), where p is each
group's share. 0 bits means all samples
agree; 1 bit is an even split between two answers; 2 bits an even split among four; at most
log₂ K bits for K groups.

**Miller–Madow entropy.** The entropy above is biased low when N is small, because rare
answers have not shown up yet. Miller–Madow adds (K − 1) / (2 N ln 2) bits, with K the number
of groups seen; it is a better estimate of the model's true spread. For one group it equals
the plain entropy (0).

**Deterministic sampling.** At temperature 0, or with top-k = 1, the model always picks its
single most likely next token, so every sample is identical by construction. Agreement is
then 100% and entropy 0 bits whatever the model "believes"; Quorum says so before the run
(the window offers to use one sample instead) and next to the figures. Use the model's
recommended sampling settings to measure consistency.

**Stopping early.** A long run can end before all N samples are done. Samples are decoded
together, so the first to finish are the *short* ones, and short answers are often different
answers: a rule that read whichever samples finished first would be reading a biased sample.
So every rule decides only on the *complete prefix by index*: samples 1..k, all finished. With
early stop on, samples start in index order, a quarter of N at a time, so stopping skips
samples that never started and saves their time. Samples past the prefix that finished are
kept and shown, and the figures say which samples they cover.

- *Beta rule* (Adaptive-Consistency, Aggarwal et al. 2023; recommended): with v1 and v2 the
  counts of the leader and the runner-up among samples 1..k, stop when the probability that
  the leader beats the runner-up, P(p > ½) for p ~ Beta(v1 + 1, v2 + 1), exceeds 95%.
- *Leader cannot lose*: stop when the leading answer is ahead of the runner-up by more than
  the number of samples still to come. Then even if every remaining sample went to the
  runner-up, the majority would not change. (If they could at best tie, the run goes on.)
- *Leader settled* (includes the rule above): after at least 8 samples, stop when the lower
  end of the leading answer's Wilson 95% interval is above the upper end of the runner-up's
  interval (a runner-up that does not exist counts as 0 samples). A unanimous run settles
  after 8 samples. A rule of thumb, checked after every sample.
- *Off*: all N samples always run.

How often a rule's majority differs from the full run's, and how many of 64 samples it used
(benchmarks/early_stop.py: 300 simulated runs per cell, answers correlated with length,
leader's true share 0.6 / 0.8 / 0.95):

| rule | decides on | 0.6 | 0.8 | 0.95 |
|---|---|---|---|---|
| Beta | samples 1..k | 0.3%, 17 used | 0.3%, 7.6 used | 0%, 4.5 used |
| Leader settled | samples 1..k | 0%, 24 used | 0%, 11 used | 0%, 8.1 used |
| Beta | first finished | 64%, 25 used | 33%, 20 used | 1.3%, 10 used |

The last row is why Quorum never decides on the first samples to finish.

Counts for the early-stop rules include every group, the no-answer bucket too.
"""
