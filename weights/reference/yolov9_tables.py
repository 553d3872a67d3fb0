"""Writes the layer tables of models/yolov9/src/tables.rs (the part after the hand-written
header: `Spec`, `Layer`, `l`) from the authors' configurations
`models/detect/{gelan,yolov9}-{t,s,m,c,e}.yaml` of WongKinYiu/yolov9 (a checkout at $YOLOV9_SRC
or, as here, a bare mirror; the yamls are read, nothing is copied but their numbers).

Run: python weights/reference/yolov9_tables.py > /tmp/tables.rs, then replace the tables in
models/yolov9/src/tables.rs (everything after `use Spec::*;`) and run `cargo fmt`.
"""
import subprocess, yaml, sys
repo=__import__("os").environ.get("YOLOV9_GIT", "/work/.mirror/WongKinYiu+yolov9/repo")
out=[]
for name in ["gelan-t","gelan-s","gelan-m","gelan-c","gelan-e","yolov9-t","yolov9-s","yolov9-m","yolov9-c","yolov9-e"]:
    y=yaml.safe_load(subprocess.check_output(["git","-C",repo,"show",f"HEAD:models/detect/{name}.yaml"]))
    rows=y["backbone"]+y["head"]
    const=name.upper().replace("-","_")
    out.append(f"/// `{name}`.\npub const {const}: &[Layer] = &[")
    for i,(f,n,m,a) in enumerate(rows):
        assert n==1
        fr = f if isinstance(f,list) else [f]
        frs="&["+", ".join(str(x) for x in fr)+"]"
        if m=="Conv": b=f"Conv {{ c2: {a[0]}, k: {a[1]}, s: {a[2]} }}"
        elif m=="AConv": b=f"AConv {{ c2: {a[0]} }}"
        elif m=="ADown": b=f"ADown {{ c2: {a[0]} }}"
        elif m=="ELAN1": b=f"Elan1 {{ c2: {a[0]}, c3: {a[1]}, c4: {a[2]} }}"
        elif m=="RepNCSPELAN4": b=f"RepElan {{ c2: {a[0]}, c3: {a[1]}, c4: {a[2]}, n: {a[3]} }}"
        elif m=="SPPELAN": b=f"Sppelan {{ c2: {a[0]}, c3: {a[1]} }}"
        elif m=="nn.Upsample": b="Upsample"
        elif m=="Concat": b="Concat"
        elif m=="Silence": b="Silence"
        elif m=="CBLinear": b=f"CbLinear {{ c2s: &[{', '.join(map(str,a[0]))}] }}"
        elif m=="CBFuse": b=f"CbFuse {{ idx: &[{', '.join(map(str,a[0]))}] }}"
        elif m=="DDetect": b="Detect"
        elif m=="DualDDetect": b="DualDetect"
        else: raise SystemExit(m)
        out.append(f"    l({frs}, {b}), // {i}")
    out.append("];\n")
print("\n".join(out))
