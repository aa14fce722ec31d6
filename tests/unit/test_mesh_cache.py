"""The mesh cache (meshes/common.py): cached .msh files carry a checksum section; a truncated or
corrupted file gives one warning line on stderr and is rebuilt; files are published by atomic
rename from a unique temporary name, so concurrent builders of the same entry all succeed and
readers never see a partial file."""
import subprocess
import sys
import textwrap
import time

from meshes import common
from meshes import disc_3d as D
from meshes import disc_axisym as A
from fem.verification.cases import ROOT

GEO = A.AxisymDiscGeometry(mesh_size_mm=0.125)          # 246 triangles, ~0.05 s to build


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("warning: mesh cache")]


def test_fresh_file_has_a_valid_checksum_and_no_temporaries(tmp_path):
    p = A.cached_msh(GEO, tmp_path)
    assert common.msh_problem(p) is None
    assert b"$FemChecksum\n" in p.read_bytes()
    assert [x.name for x in tmp_path.iterdir()] == [p.name]


def test_truncated_file_is_detected_and_rebuilt(tmp_path, capsys):
    p = A.cached_msh(GEO, tmp_path)
    good = p.read_bytes()
    for cut in (len(good) // 2, len(good) - 20, 10):   # mid-elements, inside the checksum, the header
        p.write_bytes(good[:cut])
        assert common.msh_problem(p) is not None
        assert A.cached_msh(GEO, tmp_path) == p
        err = capsys.readouterr().err
        assert len(_warnings(err)) == 1 and len(err.strip().splitlines()) == 1, err
        assert p.name in err and "Traceback" not in err
        assert common.msh_problem(p) is None and p.read_bytes() == good   # the builder is deterministic
    mesh, _, _ = A.load_mesh(GEO, cache_dir=tmp_path)
    assert mesh.topology.index_map(2).size_global == 246


def test_corrupted_byte_and_empty_file_are_detected(tmp_path, capsys):
    p = D.cached_msh(D.Disc3DGeometry(mesh_size_mm=0.75, layers=1), tmp_path)
    good = p.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 3] ^= 0x01
    for damaged in (bytes(bad), b""):
        p.write_bytes(damaged)
        assert common.msh_problem(p) is not None
        D.cached_msh(D.Disc3DGeometry(mesh_size_mm=0.75, layers=1), tmp_path)
        err = capsys.readouterr().err
        assert len(_warnings(err)) == 1, err
        assert common.msh_problem(p) is None and p.read_bytes() == good


def test_whole_file_without_checksum_is_reused(tmp_path, capsys):
    """A complete file written before the checksum existed is used as it is (no warning, no rebuild);
    the same file cut short is rebuilt."""
    p = A.cached_msh(GEO, tmp_path)
    data = p.read_bytes()
    legacy = data[:data.rfind(b"$FemChecksum\n")]
    p.write_bytes(legacy)
    mtime = p.stat().st_mtime_ns
    assert common.msh_problem(p) is None
    A.cached_msh(GEO, tmp_path)
    assert p.stat().st_mtime_ns == mtime and capsys.readouterr().err == ""
    p.write_bytes(legacy[:-30])
    A.cached_msh(GEO, tmp_path)
    assert len(_warnings(capsys.readouterr().err)) == 1 and common.msh_problem(p) is None


def test_damaged_composite_report_is_rebuilt(tmp_path, capsys):
    from meshes import composite as C
    g = C.CompositeGeometry(diameter_mm=3.0, mesh_size_mm=0.3, void_fraction=0.0)
    path, report = C.cached_msh(g, tmp_path)
    rpath = path.with_suffix(".json")
    rpath.write_text(rpath.read_text()[:100])   # truncated JSON
    path2, report2 = C.cached_msh(g, tmp_path)
    err = capsys.readouterr().err
    assert len(_warnings(err)) == 1 and rpath.name in err, err
    assert report2["n_tets"] == report["n_tets"] and report2["key"] == g.key()
    assert common.msh_problem(path2) is None
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted([path.name, rpath.name])


BUILDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from meshes import disc_axisym as A, common
    geo = A.AxisymDiscGeometry(mesh_size_mm=0.01)
    cache = Path({cache!r})
    path = cache / f"disc_axisym_{{geo.key()}}.msh"
    while time.time() < {start}:
        time.sleep(0.001)
    existed = path.exists()
    p = A.cached_msh(geo, cache)
    print("built" if not existed else "reused", common.msh_problem(p))
""")

READER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from meshes import disc_axisym as A, common
    path = Path({cache!r}) / f"disc_axisym_{{A.AxisymDiscGeometry(mesh_size_mm=0.01).key()}}.msh"
    seen, bad = 0, []
    t_end = {start} + 60
    while time.time() < t_end:
        if path.exists():
            seen += 1
            problem = common.msh_problem(path)
            if problem:
                bad.append(problem)
            if seen > 50:
                break
        time.sleep(0.002)
    print(seen, bad)
""")


def test_concurrent_builders_of_the_same_mesh(tmp_path):
    """Two processes build the same mesh (43k triangles, ~1 s) at the same moment into an empty
    cache while a third reads the entry whenever it exists: both builders succeed (both really
    built, so they overlapped), the reader never sees a damaged file, and one valid file remains."""
    cache = tmp_path / "cache"
    cache.mkdir()
    start = time.time() + 5.0   # all three import first, then start together
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER.format(root=str(ROOT), cache=str(cache), start=start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reader = subprocess.Popen([sys.executable, "-c", READER.format(root=str(ROOT), cache=str(cache), start=start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=300) for p in procs]
    r_out, r_err = reader.communicate(timeout=300)
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and err == "", err
        assert out.split() == ["built", "None"], out   # both saw no file, built and published a whole one
    assert reader.returncode == 0, r_err
    seen, bad = r_out.split(" ", 1)
    assert int(seen) > 0 and bad.strip() == "[]", r_out
    files = list(cache.iterdir())
    assert len(files) == 1 and common.msh_problem(files[0]) is None, files
