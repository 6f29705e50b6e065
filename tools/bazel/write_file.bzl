"""write_file(): a generated source whose text is fixed at analysis time."""

def write_file(name, out, lines):
    """Writes `lines` (joined by newlines) to `out`, as genrule `name`."""
    native.genrule(
        name = name,
        outs = [out],
        cmd = "cat > $@ <<'WRITE_FILE_EOF'\n" + "\n".join(lines) + "\nWRITE_FILE_EOF",
    )
