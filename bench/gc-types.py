#!/usr/bin/env python3
"""Usage: gc-types.py N OUT.wasm

A WebAssembly 3.0 module of N types in recursion groups of 1-10: struct
types referring to earlier structs, array types, function types taking
typed references, `anyref` and `exnref`, declared subtype chains of
function types (up to 60 deep); one exported function per 100 function
types. What `springboard inspect` reads at scale (docs/PERFORMANCE.md)."""
import sys

def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7f; n >>= 7
        if n: out.append(b | 0x80)
        else: out.append(b); return bytes(out)

def sleb(n):
    out = bytearray()
    while True:
        b = n & 0x7f; n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b); return bytes(out)
        out.append(b | 0x80)

def section(id, body): return bytes([id]) + leb(len(body)) + body
def vec(items): return leb(len(items)) + b''.join(items)
def ref(null, idx): return bytes([0x63 if null else 0x64]) + sleb(idx)

I32, ANYREF, EXNREF = b'\x7f', b'\x6e', b'\x69'
n = int(sys.argv[1])
state = 12345
def rand(k):
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return (state >> 33) % k

types, funcs, structs, depth = [], [], [], {}
i = 0
while i < n:
    size = min(1 + rand(10), n - i)
    group = []
    for j in range(size):
        t = i + j
        kind = 's' if not structs or t % 3 == 0 else ('a' if t % 3 == 1 and t % 2 else 'f')
        if kind == 's':
            fields = [I32 + b'\x01']
            if structs: fields.append(ref(True, structs[rand(len(structs))]) + b'\x00')
            group.append(b'\x50\x00\x5f' + vec(fields)); structs.append(t)
        elif kind == 'a':
            group.append(b'\x5e\x78\x01')  # (array (mut i8)), final
        else:
            # Every function type has one structure, so any earlier one (not
            # too deep) may be its declared supertype.
            sup = [f for f in funcs[-50:] if depth[f] < 60]
            params = vec([ref(True, structs[0]), I32, ANYREF, EXNREF])
            body = b'\x60' + params + vec([I32])
            if sup and rand(3):
                s = sup[rand(len(sup))]
                group.append(b'\x50' + vec([leb(s)]) + body); depth[t] = depth[s] + 1
            else:
                group.append(b'\x50\x00' + body); depth[t] = 0
            funcs.append(t)
    types.append(group[0] if size == 1 else b'\x4e' + vec(group))
    i += size

defined = funcs[::100]
mod = b'\x00asm\x01\x00\x00\x00' + section(1, vec(types))
mod += section(3, vec([leb(t) for t in defined]))
mod += section(7, vec([vec([bytes([c]) for c in b'f%d' % k]) + b'\x00' + leb(k) for k in range(len(defined))]))
mod += section(10, vec([leb(4) + b'\x00\x41\x00\x0b' for _ in defined]))
open(sys.argv[2], 'wb').write(mod)
