"""`voronka analyze --jsonl` core: one JSON answer per input line, bad lines reported and skipped."""

from __future__ import annotations

import io
import json

from cli.analyze import analyze_jsonl


def run(text: str) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = analyze_jsonl(io.StringIO(text), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_line_gets_intent_product_emotion_and_found_slots() -> None:
    code, rows = run(
        '{"text": "юристь на полсотни сотрудников скок стоит"}\n'
        '{"text": "Меня зовут Ольга, +7 (903) 111-22-33"}\n'
        '{"text": "20", "expecting": "users", "current_product": "ai_manager"}\n'
    )
    assert code == 0
    assert rows[0] == {"intent": "price", "product": "ai_lawyer", "emotion": "neutral", "slots": {"users": 50}}
    assert rows[1]["slots"] == {"name": "Ольга", "phone": "+79031112233"}
    assert rows[2] == {"intent": "brief", "product": "ai_manager", "emotion": "neutral", "slots": {"users": 20}}
    assert isinstance(rows[0]["slots"]["users"], int)  # type: ignore[index]


def test_bad_lines_write_an_error_and_the_rest_continues() -> None:
    code, rows = run('not json\n{"txt": "привет"}\n{"text": ""}\n\n{"text": "привет"}\n')
    assert code == 0
    assert len(rows) == 4  # the blank line is skipped
    for row in rows[:3]:
        assert row["error"]["code"] == "invalid_input"  # type: ignore[index]
        assert row["error"]["field"] == "text"  # type: ignore[index]
    assert rows[3]["intent"] == "greeting"


def test_output_is_utf8_not_escaped() -> None:
    out = io.StringIO()
    analyze_jsonl(io.StringIO('{"text": "мы агентство недвижимости, нас 5"}\n'), out)
    assert "недвижимость" in out.getvalue()
