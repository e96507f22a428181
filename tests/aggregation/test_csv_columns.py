"""The CLI's column reader: the bulk split of plain files and the csv-module path read every
file as ``csv.DictReader`` does (what the command line used before it was made fast)."""
from __future__ import annotations

import csv

import pytest

from chalicelib.aggregation import csv_columns
from chalicelib.aggregation.__main__ import main as cli_main
from chalicelib.aggregation.classification._encoding import first_appearance_codes
from chalicelib.aggregation.csv_columns import read_coded_columns, read_columns

COLUMNS, ALTERNATIVES = ["worker", "task", "answer"], {"answer": ["label"]}


def dictreader_columns(path) -> dict:
    """The reference: the columns as the CLI read them with csv.DictReader."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        answer = "answer" if "answer" in fields else "label"
        rows = list(reader)
    return {"worker": [r["worker"] for r in rows], "task": [r["task"] for r in rows],
            "answer": [r[answer] for r in rows]}


def uses_fast_path(path) -> bool:
    data = path.read_bytes()
    return csv_columns._plain_header_and_body(data, data.decode("utf-8"))[0] is not None


PLAIN = "worker,task,label\nw1,t1,cat\nw2,t1,dog\nw1,t2,chat noir é\nw3,t2, spaced \n"
FILES = {
    "plain": (PLAIN, True),
    "no final newline": (PLAIN.rstrip("\n"), True),
    "extra column, answer column named answer": (
        "task,when,worker,answer\nt1,9:00,w1,a\nt2,,w2,\n", True),
    "header only": ("worker,task,label\n", True),
    "repeated header name takes the last column": ("worker,task,label,label\nw,t,x,y\n", True),
    "quoted ids with commas, quotes and a line break": (
        'worker,task,label\n"w,1","t ""one""",cat\nw2,"t\ntwo",dog\n', False),
    "CRLF line ends": (PLAIN.replace("\n", "\r\n"), False),
    "empty lines are skipped": ("worker,task,label\n\nw1,t1,cat\n\nw2,t1,dog\n", False),
    "ids of many lengths, shared prefixes, empty and non-ASCII fields": (
        "worker,task,label\n"
        "worker-with-a-long-name-0001,t,é\nworker-with-a-long-name-0002,t,\n"
        "worker-with-a-long-name-0001,tt,a\nw,t\u00e9,é\n,12345678,b\n,123456789,b\n"
        "worker-with-a-long-name-0002,12345678,\n", True),
    "short row gives None, long row keeps its first fields": (
        "worker,task,label\nw1,t1\nw2,t1,dog,extra\n", False),
}


@pytest.mark.parametrize("name", list(FILES))
def test_columns_match_dictreader(tmp_path, name):
    text, fast = FILES[name]
    path = tmp_path / "answers.csv"
    path.write_bytes(text.encode("utf-8"))
    assert uses_fast_path(path) is fast
    values, used = read_columns(str(path), COLUMNS, ALTERNATIVES)
    assert values == dictreader_columns(path)
    assert used["answer"] == ("answer" if "answer" in text.split("\n")[0] else "label")
    coded, coded_used = read_coded_columns(str(path), COLUMNS, ALTERNATIVES)
    assert coded_used == used
    for column in COLUMNS:
        indices, distinct = coded[column]
        expected_indices, expected_distinct = first_appearance_codes(values[column])
        assert distinct == expected_distinct
        assert indices.tolist() == expected_indices.tolist()


def test_slow_path_reads_plain_files_the_same(tmp_path, monkeypatch):
    path = tmp_path / "answers.csv"
    path.write_text(PLAIN, encoding="utf-8")
    fast = read_columns(str(path), COLUMNS, ALTERNATIVES)
    monkeypatch.setattr(csv_columns, "_plain_header_and_body", lambda data, text: (None, ""))
    assert read_columns(str(path), COLUMNS, ALTERNATIVES) == fast


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("worker,item,label\nw,t,x\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="missing column"):
        read_columns(str(path), COLUMNS, ALTERNATIVES)


def test_cli_output_is_the_same_whether_fields_are_quoted_or_not(tmp_path):
    rows = [(f"w{w}", f"t{t}", ["cat", "dog", "bird"][(t + (w % 3 == 0)) % 3])
            for t in range(40) for w in range(t % 5, t % 5 + 6)]
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    for path, quoting in ((plain, csv.QUOTE_MINIMAL), (quoted, csv.QUOTE_ALL)):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=quoting, lineterminator="\n")
            writer.writerow(["worker", "task", "label"])
            writer.writerows(rows)
    assert uses_fast_path(plain) and not uses_fast_path(quoted)
    outputs = []
    for path in (plain, quoted):
        out = tmp_path / f"out-{path.name}"
        assert cli_main(["--answers", str(path), "--method", "ds", "--out", str(out)]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    lines = outputs[0].decode().split("\r\n")
    assert lines[0] == "task,label,confidence" and lines[1].startswith("t0,")
    assert len(lines) == 42 and lines[-1] == ""  # 40 tasks, csv.writer's line ends


def test_cli_writes_ids_that_need_quoting_quoted(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text('worker,task,label\na,"t,1",x\nb,"t,1",x\na,"say ""hi""",y\n',
                    encoding="utf-8")
    out = tmp_path / "out.csv"
    assert cli_main(["--answers", str(path), "--method", "mv", "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["task"], r["label"]) for r in rows] == [("t,1", "x"), ('say "hi"', "y")]
