"""Uploaded documents: checking a file before it is indexed, and the report shown after."""

from __future__ import annotations

from pathlib import Path

from qa import render

#: Largest document accepted for upload (bytes).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: File types accepted for upload.
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")


class UploadError(ValueError):
    """An uploaded file that cannot be added (wrong type, too large, unreadable)."""


def validate_upload(path: str | Path, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Check an uploaded file's type and size; return it as a Path.

    Raises:
        UploadError: with a message for the user naming the accepted types or the limit.
    """
    path = Path(path)
    if path.suffix.lower() not in UPLOAD_SUFFIXES:
        raise UploadError(
            f"{path.name}: 不支持的文件类型，只接受 {' '.join(UPLOAD_SUFFIXES)} 文件"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise UploadError(
            f"{path.name}: 文件过大（{size / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB"
        )
    if size == 0:
        raise UploadError(f"{path.name}: 文件是空的")
    return path


def upload_status(results: list[tuple[str, str, str]]) -> str:
    """A Markdown report of an upload: a summary line, then one line per file.

    ``results`` holds ``(file name, "added" | "known" | "failed", reason)``.
    """
    added = sum(1 for _, outcome, _ in results if outcome == "added")
    failed = [(name, reason) for name, outcome, reason in results if outcome == "failed"]
    known = len(results) - added - len(failed)
    summary = f"已添加 {added} 个文档（共 {len(results)} 个文件"
    summary += f"，{known} 个已在索引中" if known else ""
    summary += f"，{len(failed)} 个未能添加）。" if failed else "）。"
    icon = "✅" if added else ("❌" if failed and not known else "ℹ️")
    lines = [f"{icon} {summary}"]
    for name, outcome, reason in results:
        if outcome == "known":
            lines.append(f"- ℹ️ {_md_text(name)}：已在索引中，未重复添加")
        elif outcome == "failed":
            lines.append(f"- ❌ {_md_text(name)}：{_md_text(reason)}")
        else:
            lines.append(f"- ✅ {_md_text(name)}：已添加")
    return "\n".join(lines)


def _md_text(text: str) -> str:
    """``text`` for a Markdown line: HTML-escaped, Markdown punctuation backslashed."""
    escaped = render.escape(" ".join(text.split()))
    return "".join("\\" + ch if ch in "\\`*_[]#|~<>!" else ch for ch in escaped)
