"""Rule: read function values from the result cache instead of decoding and computing them.

Before::  Project <- Filter(c1) <- ApplyUDF detect -> c1 <- Decode <- VideoScan
After::   Project <- Filter(c1) <- Reuse(c1) <- ApplyUDF detect -> c1 <- Decode <- VideoScan

``Reuse`` serves the frames the cache holds and sends only the others through the decoder and
the functions below it, caching what they compute. It applies when every function of the
pipeline is deterministic and they all sit right above the decoder (a frame
that came from the cache has no pixels, so nothing above may need them: no later function,
no selected ``frame``). Lossless: cached values are what the functions computed on the same
content, at the same resolution, in the same function version. A stateful function's values
are served for whole videos only, and only where it runs over every frame in order: not under
a SAMPLE (here), nor under the knobs a target chooses (``PhysicalPlanner._reusable``).
"""

from __future__ import annotations

from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    PlanNode,
    Project,
    Relational,
    Reuse,
    VideoScan,
    chain,
    rebuild,
    thinned,
)


def reuse_results(plan: Relational) -> Relational:
    """The plan with a ``Reuse`` above each pipeline's functions, where the cache can serve them."""
    return plan.replace(inputs=tuple(_wrap(node) for node in plan.inputs))


def _wrap(root: PlanNode) -> PlanNode:
    nodes = chain(root)
    decodes = [i for i, n in enumerate(nodes) if isinstance(n, Decode)]
    udfs = [n for n in nodes if isinstance(n, ApplyUDF)]
    if isinstance(nodes[0], VideoScan) and (nodes[0].live or nodes[0].watch) is not None:
        return root  # a stream's frames are never seen twice; a folder's grow while it runs
    if len(decodes) != 1 or not udfs or any(isinstance(n, Reuse) for n in nodes):
        return root
    top = decodes[0] + len(udfs)
    if nodes[decodes[0] + 1:top + 1] != udfs:
        return root  # a filter sits between functions: later ones need the pixels
    if any(u.call.version is None for u in udfs):
        return root
    if any(u.call.stateful for u in udfs) and thinned(nodes):
        return root  # a stateful function sees other frames: its values are not the cached
    project = nodes[-1]
    if isinstance(project, Project) and project.encode_frame:
        return root
    reuse = Reuse(udfs[-1], tuple(u.call.column for u in udfs))
    return rebuild([*nodes[:top + 1], reuse, *nodes[top + 1:]])
