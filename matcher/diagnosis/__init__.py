"""Why a round is infeasible: which hard rules and records conflict, in planners' words.

:func:`diagnose` is called when no allocation satisfies the hard rules of spec §3. It works
in three stages and returns a list of :class:`Finding`:

1. **Pre-checks** (:func:`prechecks`): small, fast, exact arguments about one pharmacist,
   one placement or one period at a time (each is a function named after what it finds,
   in :mod:`~matcher.diagnosis.pins`, :mod:`~matcher.diagnosis.sectors` and
   :mod:`~matcher.diagnosis.unassigned`). Each one is a proof of infeasibility on its own:
   a pharmacist who cannot reach enough sectors, a required sector out of reach, a slot
   nobody may leave empty with no eligible placement, more pharmacists than seats, pins
   that overfill a placement, an organisation or a supervisor, pins that break continuity,
   rotation or the sector mix, and so on.
2. **Conflict core**: the hard rules as CP-SAT rows (:class:`ConflictModel`), every group
   of rows about one rule and one record (the capacity of GP-A in R2, the sector mix of
   PH-0007, one pin, the "nobody unassigned" rule of PH-0003 in R2's host stream) switched
   on by one literal. The groups are first checked together as hard rules (presolve proves
   most conflicts at once). A conflict is then localised to a few pharmacists (connected
   components of who could share what, then QuickXplain over pharmacists: leaving
   pharmacists out only loosens shared limits, so a conflict among the rest is a conflict
   of the round), and on the model of those pharmacists CP-SAT solves under assumptions
   and reports a set of groups that cannot hold together
   (``sufficient_assumptions_for_infeasibility``; QuickXplain over groups if that search
   stalls). Deletion-based minimisation then drops groups one at a time while the rest
   stays infeasible, so the conflict reported is minimal whenever the budget allows
   (``Finding.minimal``). Groups already explained by a pre-check are relaxed first, and
   after each conflict its groups are relaxed too, so one call can report several
   independent conflicts (once one reason is known, the search for more is kept short).
3. **Rule families** (:mod:`~matcher.diagnosis.families`), only when neither found a
   reason in its share of the budget (30 % for the conflict core): whole families of rules
   (capacity, organisation caps, supervision, nobody unassigned, ...) join a set that holds
   together one by one, each search starting from the last solution; the families that
   cannot join are reported (kind ``families``) as what must be relaxed, with examples of
   records where time allows. Coarse, not a minimal conflict: the message says whether
   the set was shown to be the fewest.

Every message names ids, rules and numbers, never names or home locations. The function
never raises: a failure inside is logged and reported as an ``unexplained`` finding. For a
round that is in fact feasible it returns an empty list.

Conventions (as :mod:`matcher.checker`): organisation caps and supervision count distinct
pharmacists; eligibility (spec §2) is :func:`matcher.eligibility.candidates`, so ineligible
triples never appear as variables and the rules are stated over eligible triples only.

The modules, each using only those above it:

- :mod:`~matcher.diagnosis.findings`: :class:`Group`, :class:`Finding`, :data:`KINDS`;
- :mod:`~matcher.diagnosis.context`: the round indexed for the checks;
- :mod:`~matcher.diagnosis.wording`: a conflict core in planners' words;
- :mod:`~matcher.diagnosis.pins`, :mod:`~matcher.diagnosis.sectors`,
  :mod:`~matcher.diagnosis.unassigned`: the pre-checks;
- :mod:`~matcher.diagnosis.conflicts`: :class:`ConflictModel` and the search for a core;
- :mod:`~matcher.diagnosis.stages`: :func:`prechecks` and :func:`diagnose`.
"""

from matcher.diagnosis.conflicts import ConflictModel
from matcher.diagnosis.findings import KINDS, Finding, Group
from matcher.diagnosis.stages import diagnose, prechecks

__all__ = ["KINDS", "ConflictModel", "Finding", "Group", "diagnose", "prechecks"]
