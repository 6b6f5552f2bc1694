"""Bad input from the command line, case by case: each is one clear `error:` line naming
the input, exit code 2, no traceback, and nothing already on disk damaged. The cases came
from an audit of the commands against inputs users write by mistake (other encodings,
folders where files are expected, sizes no machine holds, ...); tests/test_cli.py holds
the earlier ones."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run

LOWER_FC = ["lower", "--accelerator", "systolic", "--model", "resnet50", "--layers", "fc"]


def one_error(capsys, args: list[str], fragment: str) -> str:
    code, _, err = run(args, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    # A fresh tree's first analysis says, in a note, that it compiles the kernels once.
    err = "".join(line for line in err.splitlines(True) if not line.startswith("note: "))
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    return err


def test_a_mapping_file_in_another_encoding(tmp_path, capsys):
    # PowerShell's `>` writes UTF-16; a binary file is the same case.
    for name in ("m.json", "m.toml"):
        mapping = tmp_path / name
        mapping.write_bytes(b'\xff\xfe{\x00"\x00l\x00')
        args = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "--mapping"]
        one_error(capsys, [*args, str(mapping), "-o", str(tmp_path / "out")], "not UTF-8")
    assert not (tmp_path / "out").exists()


def test_files_nested_too_deeply_to_parse(tmp_path, capsys):
    deep_json, deep_toml = "[" * 100_000 + "]" * 100_000, "a = " + "[" * 100_000
    mapping = tmp_path / "deep.json"
    mapping.write_text(deep_json)
    args = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "--mapping"]
    one_error(capsys, [*args, str(mapping), "-o", str(tmp_path)], "nested too deeply")
    description = tmp_path / "deep.toml"
    description.write_text(deep_toml + "]" * 100_000)
    lower = ["lower", "--accelerator", str(description), "--model", "resnet50"]
    one_error(capsys, [*lower, "-o", str(tmp_path)], "deep.toml")
    code, out, _ = run([*LOWER_FC, "-o", str(tmp_path / "traces")], capsys)
    assert code == 0
    trace = Path(out.strip())
    (trace / "manifest.json").write_text(deep_json)
    one_error(capsys, ["analyze", str(trace)], "manifest.json")


def test_a_folder_where_a_description_or_report_file_is_expected(tmp_path, capsys):
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    lower = ["lower", "--accelerator", str(folder), "--model", "resnet50"]
    one_error(capsys, [*lower, "-o", str(tmp_path / "out")], "cannot read it")
    report = tmp_path / "report.json"
    report.mkdir()
    one_error(capsys, ["plot", str(report), "-o", str(tmp_path / "p.png")], "cannot read it")
    assert not (tmp_path / "out").exists() and not (tmp_path / "p.png").exists()


def test_a_report_with_cycles_no_engine_counts(tmp_path, capsys):
    report = tmp_path / "big.json"
    layer = {"name": "conv1", "cycles": 10**300, "bound": "pe-bound"}
    report.write_text(json.dumps({"layers": [layer]}))
    one_error(capsys, ["plot", str(report), "-o", str(tmp_path / "p.png")], "2**63 - 1")


def test_lower_keeps_what_is_not_a_trace_in_its_way(tmp_path, capsys):
    # A folder of the trace's name holding a user's file, or a file of that name: refused
    # and left as it was; --force replaces either, and leaves no hidden leftover.
    out = tmp_path / "out"
    folder = out / "resnet50__systolic"
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("x")
    one_error(capsys, [*LOWER_FC, "-o", str(out)], "not part of a trace (mine.txt)")
    assert (folder / "mine.txt").read_text() == "x"
    (folder / "mine.txt").unlink()
    folder.rmdir()
    folder.write_text("x")
    one_error(capsys, [*LOWER_FC, "-o", str(out)], "is a file, not a trace folder")
    assert folder.read_text() == "x"
    code, printed, _ = run([*LOWER_FC, "-o", str(out), "--force"], capsys)
    assert code == 0 and Path(printed.strip()) == folder and (folder / "manifest.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["resnet50__systolic"]
    # The system's hidden files do not stop it (Finder's .DS_Store).
    (folder / ".DS_Store").write_text("x")
    assert run([*LOWER_FC, "-o", str(out)], capsys)[0] == 0
    # A report saved into the trace folder: the same configuration lowered again keeps it.
    (folder / "report.json").write_text("{}")
    one_error(capsys, [*LOWER_FC, "-o", str(out)], "(report.json)")
    assert (folder / "report.json").exists() and (folder / "manifest.json").exists()


def test_a_report_never_replaces_what_its_command_reads(tmp_path, capsys):
    code, out, _ = run([*LOWER_FC, "-o", str(tmp_path / "traces")], capsys)
    assert code == 0
    trace = Path(out.strip())
    manifest = (trace / "manifest.json").read_text()
    one_error(capsys, ["analyze", str(trace), "--json", str(trace / "manifest.json")], "reads")
    assert (trace / "manifest.json").read_text() == manifest
    topology = tmp_path / "t.csv"
    topology.write_text("Layer, M, N, K,\nQK, 8, 8, 8,\n")
    one_error(capsys, ["layers", str(topology), "--json", str(topology)], "reads")
    assert topology.read_text().startswith("Layer, M, N, K,")


def test_sweeps_refuse_what_would_fail_every_configuration_before_any_work(tmp_path, capsys):
    out = tmp_path / "sw.parquet"
    sweep = ["sweep", "--accelerator", "systolic", "--model", "tc_resnet8", "--workers", "1"]
    broken = tmp_path / "broken.csv"
    broken.write_text("Layer, IFMAP Height\nconv1, x\n")
    bad = [
        ([*sweep, "--grid", "rows=4,abc", "-o", str(out)], "--grid rows=abc: rows takes integers"),
        ([*sweep, "--model", str(broken), "--grid", "rows=4", "-o", str(out)], "broken.csv"),
        ([*sweep, "--grid", "rows=4", "-o", "/proc/sw.parquet"], "cannot write there"),
    ]
    for args, fragment in bad:
        one_error(capsys, args, fragment)
    assert not out.exists()


def test_a_failed_value_leaves_earlier_results_plottable(tmp_path, capsys):
    # rows=0 is out of range: recorded with its error, its column still integers.
    out = tmp_path / "sw.parquet"
    sweep = ["sweep", "--accelerator", "systolic", "--model", "tc_resnet8", "--workers", "1"]
    assert run([*sweep, "--grid", "rows=4,8", "-o", str(out)], capsys)[0] == 0
    assert run([*sweep, "--grid", "rows=4,0", "-o", str(out)], capsys)[0] == 0
    code, printed, err = run(["plot", str(out), "-o", str(tmp_path / "p.png")], capsys)
    assert code == 0, err


def test_the_sweep_api_refuses_arguments_of_the_wrong_shape(tmp_path):
    from tracer.api import AccperfError
    from tracer.sweep import sweep

    out = tmp_path / "sw.parquet"
    for kwargs, fragment in (
        ({"grid": {"rows": "48"}}, "give a list of values"),
        ({"grid": {"rows": [4]}, "batches": [0]}, "positive integer, got 0"),
    ):
        try:
            sweep("systolic", ["tc_resnet8"], out=out, workers=1, **kwargs)
        except AccperfError as exc:
            assert fragment in str(exc)
        else:
            raise AssertionError(f"{kwargs} was accepted")
    assert not out.exists()


def test_sizes_no_machine_holds_are_refused_at_once(tmp_path, capsys):
    # Each used to run out of memory or hang: a set of every reached input position
    # (systolic), a list of every tile (Gemmini), every step (Plasticine).
    huge = tmp_path / "huge.csv"
    huge.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\nconv1, 1000000000, 1000000000, 1, 1, 3, 64, 1,\n"
    )
    batch = ["--layers", "fc", "--batch", "10" * 11]
    cases = [
        (["systolic", "--model", str(huge)], "more instructions than it can count"),
        (["gemmini", "--model", "resnet50", *batch], "tiles a layer"),
        (["plasticine", "--model", "resnet50", *batch], "steps"),
    ]
    for args, fragment in cases:
        one_error(capsys, ["lower", "--accelerator", *args, "-o", str(tmp_path / "out")], fragment)
    assert not (tmp_path / "out").exists()


def test_baselines_of_a_trace_whose_mapping_was_garbled(tmp_path, capsys):
    lower = ["lower", "--accelerator", "systolic", "--model", "tc_resnet8"]
    code, out, _ = run([*lower, "--param", "rows=8", "-o", str(tmp_path)], capsys)
    assert code == 0
    trace = Path(out.strip())
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["layers"][3]["mapping"]["input_words"] = "x"
    (trace / "manifest.json").write_text(json.dumps(manifest))
    name = manifest["layers"][3]["name"]
    one_error(capsys, ["analyze", str(trace), "--baselines"], f"layer {name!r}: its mapping has")


def test_the_api_refuses_arguments_of_the_wrong_type_in_one_error(tmp_path):
    import tracer.api as accperf

    trace = accperf.lower("resnet50", layers=["fc"], params={"rows": 8, "cols": 8})
    calls = [
        (lambda: accperf.lower("resnet50", params=[("rows", 4)]), "params="),
        (lambda: accperf.lower("resnet50", layers=5), "layers="),
        (lambda: accperf.lower("resnet50", layers="fc"), "a list of layer names"),
        (lambda: accperf.lower(123), "model="),
        (lambda: accperf.lower("resnet18", "gemmini", mapping=123), "mapping="),
        (lambda: accperf.analyze(None), "trace="),
        (lambda: accperf.analyze(123), "trace="),
        (lambda: accperf.analyze(trace, energy=5), "energy="),
        (lambda: trace.save(None), "out_dir="),
        (lambda: accperf.instruction_timeline(trace, "fc", "0", "2", 10), "first="),
    ]
    for call, fragment in calls:
        try:
            call()
        except accperf.AccperfError as exc:
            assert fragment in str(exc), (fragment, exc)
        else:
            raise AssertionError(f"accepted: {fragment}")
    assert not list(tmp_path.iterdir())


def test_prices_that_overflow_a_report_are_refused_not_written_as_infinity(tmp_path, capsys):
    code, out, _ = run([*LOWER_FC, "-o", str(tmp_path)], capsys)
    assert code == 0
    prices = tmp_path / "prices.toml"
    prices.write_text("mac = 1e300\n")
    report = tmp_path / "r.json"
    args = ["analyze", out.strip(), "--energy", str(prices), "--json", str(report)]
    one_error(capsys, args, "infinite or undefined number")
    assert not report.exists()


def test_a_description_whose_units_do_not_list_what_they_run(tmp_path, capsys):
    # `opcodes` say what a unit runs; a copy edited for a variant that drops one is refused
    # by name, where before the field was read by nothing.
    source = Path(__file__).resolve().parents[1] / "accelerators" / "systolic.toml"
    edited = source.read_text().replace('opcodes = ["mac", "preload"]', 'opcodes = ["preload"]')
    assert edited != source.read_text()
    description = tmp_path / "variant.toml"
    description.write_text(edited)
    args = ["lower", "--accelerator", str(description), "--model", "resnet50", "--layers", "fc"]
    one_error(capsys, [*args, "-o", str(tmp_path / "out")], "issues 'mac' on unit 'pe'")
    assert not (tmp_path / "out").exists()


def test_the_api_takes_numpy_integers_and_arrays_where_it_takes_ints_and_lists(tmp_path):
    # Scripts sweep with numpy: the argument checks above must not turn those away.
    import numpy as np

    import tracer.api as accperf
    from tracer.sweep import sweep

    trace = accperf.lower("resnet50", layers=["fc"], params={"rows": 8, "cols": 8})
    timed = accperf.instruction_timeline(trace, "fc", np.int64(0), np.int64(3), np.int64(9))
    assert timed == accperf.instruction_timeline(trace, "fc", 0, 3, 9) and timed[0]
    out = tmp_path / "sw.parquet"
    frame = sweep(
        "systolic", ["tc_resnet8"], {"rows": np.array([4, 8])}, out, [np.int64(1)], workers=1
    )
    assert sorted(frame.filter(frame["row"] == "total")["param.rows"].to_list()) == [4, 8]
    try:
        sweep("systolic", ["tc_resnet8"], {"rows": [4]}, out, batches=(), workers=1)
    except accperf.AccperfError as exc:
        assert "at least one batch size" in str(exc)
    else:
        raise AssertionError("an empty list of batch sizes was accepted")


def test_lower_replaces_its_own_trace_behind_a_symlink(tmp_path, capsys):
    out = tmp_path / "out"
    real = tmp_path / "kept" / "resnet50__systolic"
    code, printed, _ = run([*LOWER_FC, "-o", str(tmp_path / "kept")], capsys)
    assert code == 0
    out.mkdir()
    (out / "resnet50__systolic").symlink_to(real, target_is_directory=True)
    code, printed, err = run([*LOWER_FC, "-o", str(out)], capsys)
    assert code == 0, err
    assert (real / "manifest.json").exists()  # the folder the link named is left alone


def test_gemmini_buses_wider_than_its_dma_requests(tmp_path, capsys):
    # Every value in its allowed range, but no power of two lies between the bus beat
    # and dma_maxbytes, so the DMA could issue no Get (found by a randomized search).
    args = ["lower", "--accelerator", "gemmini", "--model", "bert_base", "--layers", "output"]
    for params in (
        ["bus_bytes=128", "system_bus_bytes=128"],
        ["bus_bytes=24", "system_bus_bytes=24", "dma_maxbytes=31"],
    ):
        given = [word for param in params for word in ("--param", param)]
        out = tmp_path / "out"
        one_error(capsys, [*args, *given, "-o", str(out)], "give --param dma_maxbytes at least")
        assert not out.exists()
