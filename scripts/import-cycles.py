"""Usage: python3 scripts/import-cycles.py src   (or src/bin/azureml-endpoint)

Top-level module import graph of src/ (a module's file and its folder are one node): every
`crate::<module>` path in code, then every cycle found. `crate::<Item>` (through the root) listed.
Unit-test modules (`#[cfg(test)] mod tests`) are left out: tests may use any module.
Exits 1 when there is a cycle (CI runs it), else 0."""
import re, os, sys, itertools
root = sys.argv[1]
mods = {}
for dirpath, _, files in os.walk(root):
    if os.path.relpath(dirpath, root).split(os.sep)[0] == 'bin': continue
    for f in files:
        if not f.endswith('.rs'): continue
        p = os.path.join(dirpath, f); rel = os.path.relpath(p, root)
        top = rel.split('/')[0].removesuffix('.rs')
        if top in ('lib',): continue
        mods.setdefault(top, []).append(p)
edges, up = {}, []
for m, files in mods.items():
    for p in files:
        text = open(p).read()
        text = re.sub(r'//[^\n]*', '', text)
        # A file's own unit tests may use any module: they are not part of the module graph.
        text = text.split('#[cfg(test)]\nmod tests')[0]
        # use crate::{a, b::c} groups
        for g in re.findall(r'crate::\{([^}]*)\}', text):
            for part in g.split(','):
                t = part.strip().split('::')[0]
                if t: (edges.setdefault(m, set()).add(t) if t[0].islower() else up.append((p, t)))
        for t in re.findall(r'crate::(\w+)', text):
            if t[0].isupper(): up.append((p, t))
            elif t != m and t in mods: edges.setdefault(m, set()).add(t)
for m in sorted(edges):
    edges[m].discard(m)
    print(f"{m} -> {', '.join(sorted(x for x in edges[m] if x in mods))}")
# cycles via DFS
cycles = set()
def dfs(start, node, path):
    for n in edges.get(node, ()):
        if n not in mods: continue
        if n == start: cycles.add(tuple(path))
        elif n not in path and n > start: dfs(start, n, path + [n])
for m in mods: dfs(m, m, [m])
print("cycles:", [' -> '.join(c + (c[0],)) for c in sorted(cycles)] or "none")
print("imports through the crate root:", up or "none")
sys.exit(1 if cycles else 0)
