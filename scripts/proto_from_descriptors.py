"""Rebuild .proto sources from the descriptors embedded in generated ``*_pb2.py`` files.

Used once to obtain dapr/durabletask-protobuf@7d7391e (vendored in the
``dapr-ext-workflow==1.18.3`` wheel) and the Dapr runtime workflow messages (the
``dapr==1.18.3`` wheel) with exact field numbers, then re-packaged under
``wayline.dt.v1`` / ``wayline.daprrt.v1`` (see shared/spec/durabletask-protocol.md §10).

    python scripts/proto_from_descriptors.py WHEEL_DIR/.../foo_pb2.py --package wayline.dt.v1 \
        --import-prefix wayline/_proto/dt/ > foo.proto
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}


def serialized_descriptor(pb2_path: Path) -> bytes:
    """The bytes passed to ``AddSerializedFile`` in a generated module."""
    tree = ast.parse(pb2_path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
        ):
            value = ast.literal_eval(node.args[0])
            assert isinstance(value, bytes)
            return value
    raise SystemExit(f"{pb2_path}: no AddSerializedFile call")


class Printer:
    def __init__(self, fd: descriptor_pb2.FileDescriptorProto, package: str) -> None:
        self.fd = fd
        self.old_package = fd.package
        self.package = package
        self.lines: list[str] = []

    def type_name(self, name: str) -> str:
        # Fully qualified names keep resolution unambiguous after re-packaging.
        name = name.lstrip(".")
        if name.startswith("google.protobuf."):
            return "." + name
        if self.old_package and name.startswith(self.old_package + "."):
            name = name[len(self.old_package) + 1 :]
        return "." + self.package + "." + name

    def field_type(self, f: FDP) -> str:
        if f.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            return self.type_name(f.type_name)
        return _SCALARS[f.type]

    def options(self, f: FDP) -> str:
        opts = []
        if f.options.HasField("deprecated") and f.options.deprecated:
            opts.append("deprecated = true")
        if f.HasField("json_name") and f.json_name != _default_json_name(f.name):
            opts.append(f'json_name = "{f.json_name}"')
        return f" [{', '.join(opts)}]" if opts else ""

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("  " * indent + text if text else "")

    def message(self, m: descriptor_pb2.DescriptorProto, indent: int) -> None:
        maps = {n.name: n for n in m.nested_type if n.options.map_entry}
        self.emit(indent, f"message {m.name} {{")
        if m.options.deprecated:
            self.emit(indent + 1, "option deprecated = true;")
        for r in m.reserved_range:
            end = r.end - 1
            self.emit(indent + 1, f"reserved {r.start}{'' if end == r.start else f' to {end}'};")
        for rn in m.reserved_name:
            self.emit(indent + 1, f'reserved "{rn}";')
        real_oneofs = {
            i
            for i, _ in enumerate(m.oneof_decl)
            if not any(f.proto3_optional and f.oneof_index == i for f in m.field)
        }
        done_oneofs: set[int] = set()
        for f in m.field:
            if f.HasField("oneof_index") and f.oneof_index in real_oneofs:
                idx = f.oneof_index
                if idx in done_oneofs:
                    continue
                done_oneofs.add(idx)
                self.emit(indent + 1, f"oneof {m.oneof_decl[idx].name} {{")
                for g in m.field:
                    if g.HasField("oneof_index") and g.oneof_index == idx:
                        self.emit(
                            indent + 2,
                            f"{self.field_type(g)} {g.name} = {g.number}{self.options(g)};",
                        )
                self.emit(indent + 1, "}")
                continue
            entry = None
            if f.type == FDP.TYPE_MESSAGE:
                entry = maps.get(f.type_name.rsplit(".", 1)[-1])
            if entry is not None and f.label == FDP.LABEL_REPEATED:
                key, value = entry.field[0], entry.field[1]
                text = f"map<{self.field_type(key)}, {self.field_type(value)}>"
                self.emit(indent + 1, f"{text} {f.name} = {f.number}{self.options(f)};")
                continue
            label = ""
            if f.label == FDP.LABEL_REPEATED:
                label = "repeated "
            elif f.proto3_optional:
                label = "optional "
            self.emit(
                indent + 1, f"{label}{self.field_type(f)} {f.name} = {f.number}{self.options(f)};"
            )
        for n in m.nested_type:
            if not n.options.map_entry:
                self.message(n, indent + 1)
        for e in m.enum_type:
            self.enum(e, indent + 1)
        self.emit(indent, "}")

    def enum(self, e: descriptor_pb2.EnumDescriptorProto, indent: int) -> None:
        self.emit(indent, f"enum {e.name} {{")
        for v in e.value:
            dep = " [deprecated = true]" if v.options.deprecated else ""
            self.emit(indent + 1, f"{v.name} = {v.number}{dep};")
        self.emit(indent, "}")

    def service(self, s: descriptor_pb2.ServiceDescriptorProto) -> None:
        self.emit(0, f"service {s.name} {{")
        for meth in s.method:
            req = ("stream " if meth.client_streaming else "") + self.type_name(meth.input_type)
            resp = ("stream " if meth.server_streaming else "") + self.type_name(meth.output_type)
            if meth.options.deprecated:
                self.emit(1, f"rpc {meth.name} ({req}) returns ({resp}) {{")
                self.emit(2, "option deprecated = true;")
                self.emit(1, "}")
            else:
                self.emit(1, f"rpc {meth.name} ({req}) returns ({resp});")
        self.emit(0, "}")


def _default_json_name(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def render(
    fd: descriptor_pb2.FileDescriptorProto,
    package: str,
    import_prefix: str,
    only: set[str] | None = None,
    with_services: bool = True,
) -> str:
    p = Printer(fd, package)
    p.emit(0, f"// Generated by scripts/proto_from_descriptors.py from {fd.name}; edit with care.")
    p.emit(0, 'syntax = "proto3";')
    p.emit(0, "")
    p.emit(0, f"package {package};")
    p.emit(0, "")
    for dep in fd.dependency:
        target = dep if dep.startswith("google/") else import_prefix + dep.rsplit("/", 1)[-1]
        p.emit(0, f'import "{target}";')
    p.emit(0, "")
    for e in fd.enum_type:
        if only is None or e.name in only:
            p.enum(e, 0)
            p.emit(0, "")
    for m in fd.message_type:
        if only is None or m.name in only:
            p.message(m, 0)
            p.emit(0, "")
    if with_services:
        for s in fd.service:
            p.service(s)
            p.emit(0, "")
    return "\n".join(p.lines).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("pb2", type=Path)
    ap.add_argument("--package", required=True)
    ap.add_argument("--import-prefix", default="")
    ap.add_argument("--only", help="comma-separated top-level message/enum names to keep")
    ap.add_argument("--no-services", action="store_true")
    args = ap.parse_args()
    fd = descriptor_pb2.FileDescriptorProto.FromString(serialized_descriptor(args.pb2))
    only = set(args.only.split(",")) if args.only else None
    sys.stdout.write(render(fd, args.package, args.import_prefix, only, not args.no_services))


if __name__ == "__main__":
    main()
