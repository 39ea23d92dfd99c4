#!/usr/bin/env python3
"""Usage: many-types.py N OUT.wasm [--export]

A module of N distinct function types (i32 result, params spelling i+1
in base 4 over i32/i64/f32/f64), one function of each; with --export, each
function exported (so every type needs host-to-wasm trampolines)."""
import sys
def leb(n):
    out=bytearray()
    while True:
        b=n&0x7f; n>>=7
        if n: out.append(b|0x80)
        else: out.append(b); return bytes(out)
def section(id, body): return bytes([id])+leb(len(body))+body
def vec(items): return leb(len(items))+b''.join(items)
n=int(sys.argv[1]); export='--export' in sys.argv
vals=[0x7f,0x7e,0x7d,0x7c]
types=[]
for i in range(n):
    params=[]; k=i+1
    while k: params.append(vals[k%4]); k//=4
    types.append(b'\x60'+vec([bytes([p]) for p in params])+vec([b'\x7f']))
mod=b'\x00asm\x01\x00\x00\x00'+section(1,vec(types))+section(3,vec([leb(i) for i in range(n)]))
if export:
    mod+=section(7,vec([vec([bytes([c]) for c in b'f%d'%i])+b'\x00'+leb(i) for i in range(n)]))
mod+=section(10,vec([leb(3)+b'\x00\x00\x0b' for _ in range(n)]))
open(sys.argv[2],'wb').write(mod)
