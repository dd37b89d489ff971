"""Message templates: ``str.format`` syntax restricted to plain field names.

``"Olá, {first_name}! Sua cobrança de {amount} vence em {due_date}."`` Only ``{name}`` and
``{name:spec}`` are accepted: no attribute access, indexing or conversion (``{x.__class__}``,
``{x[0]}``, ``{x!r}``), so a template from a ConfigMap cannot reach into Python objects. Every
value is already a formatted string (see charge.template_context), so there is nothing to format.

Two kinds of error, on purpose:
- TemplateSyntaxError when the rules file is loaded (bad braces, unknown field): a configuration
  mistake stops the run before anything is read, where a dry run or the failed-run alert shows it;
- TemplateRenderError per charge (a field it uses is empty for that charge, the text is too long):
  that charge is counted and reported, the run goes on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from string import Formatter


class TemplateSyntaxError(ValueError):
    pass


class TemplateRenderError(ValueError):
    pass


_FORMATTER = Formatter()


def _fields(source: str) -> tuple[str, ...]:
    try:
        parsed = list(_FORMATTER.parse(source))
    except ValueError as exc:
        raise TemplateSyntaxError(f"bad braces: {exc}") from exc
    names: list[str] = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateSyntaxError(f"{{{name}}}: use a plain field name like {{first_name}}")
        if conversion is not None or (spec and "{" in spec):
            raise TemplateSyntaxError(f"{{{name}}}: conversions and nested fields are not allowed")
        if name not in names:
            names.append(name)
    return tuple(names)


class Template:
    """A parsed template; ``render`` fills it from one charge's context."""

    __slots__ = ("fields", "source")

    def __init__(self, source: str, known_fields: Collection[str]) -> None:
        if not source.strip():
            raise TemplateSyntaxError("empty template")
        self.source = source
        self.fields = _fields(source)
        unknown = [name for name in self.fields if name not in known_fields]
        if unknown:
            raise TemplateSyntaxError(
                f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known_fields))}"
            )

    def render(self, context: Mapping[str, str], max_chars: int) -> str:
        missing = [name for name in self.fields if not context.get(name)]
        if missing:
            raise TemplateRenderError(f"empty field(s): {', '.join(missing)}")
        try:
            text = self.source.format_map(context)
        except (ValueError, TypeError) as exc:  # a bad format spec, e.g. {amount:d}
            raise TemplateRenderError(str(exc)) from exc
        if len(text) > max_chars:
            raise TemplateRenderError(f"{len(text)} characters, over the {max_chars} limit")
        return text
