"""The few building blocks every zapq dashboard shares, over grafana-foundation-sdk's builders.

Every panel gets a unit, a description and the ``$datasource`` variable; every selector on a zapq
series gets ``SEL``, so the namespace and release variables filter the whole dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Panel,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

PanelBuilder = Builder[Panel]
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")

# zapq's pods are named "<release fullname>-<component>-..." by the chart (Deployments and the
# scheduler CronJob alike), and both ServiceMonitor/PodMonitor targets and cAdvisor series carry
# `pod`, so one matcher selects a release everywhere, whichever monitor kind scrapes it.
RELEASE_PODS = 'pod=~"$release-.+"'
SEL = f'namespace=~"$namespace", {RELEASE_PODS}'
# zapq_worker_* gauges of the worker pods only (api processes register them too, at 0).
WORKERS = 'namespace=~"$namespace", pod=~"$release-worker-.+"'
# The series the variables are read from: every api and worker process exports it.
_ANCHOR = "zapq_queue_dead_letters"
# The sender of a repeated row (the Sending dashboard's `sender` variable: one row per sender).
SENDER = 'sender=~"$sender"'
# Rate window: Grafana's $__rate_interval is at least four scrape intervals, never too short.
RATE = "$__rate_interval"

MSG_PER_SECOND = "suffix: msg/s"
REQ_PER_SECOND = "reqps"
SECONDS = "s"
BYTES = "bytes"
COUNT = "short"
RATIO = "percentunit"
CORES = "suffix: cores"
TIMESTAMP = "dateTimeFromNow"


_LEGEND = (
    common_builders.VizLegendOptions()
    .display_mode(common.LegendDisplayMode.TABLE)
    .placement(common.LegendPlacement.BOTTOM)
    .show_legend(True)
    .calcs(["mean", "max", "lastNotNull"])
)


def rate(metric: str, by: str = "", matchers: str = "") -> str:
    """Per-second rate of a counter summed over every process (counters are per process)."""
    extra = f", {matchers}" if matchers else ""
    return f"{_aggregate('sum', by)}(rate({metric}{{{SEL}{extra}}}[{RATE}]))"


def shared(metric: str, by: str = "", matchers: str = "") -> str:
    """A queue-wide gauge (the queue, the scheduler's last run, the sender pool): every process
    exports the same value, so max."""
    extra = f", {matchers}" if matchers else ""
    return f"{_aggregate('max', by)}({metric}{{{SEL}{extra}}})"


def _aggregate(operator: str, by: str) -> str:
    return f"{operator} by ({by}) " if by else operator


def quantiles(
    histogram: str, by: str = "", legend: str = "", matchers: str = ""
) -> list[prometheus.Dataquery]:
    """p50, p95 and p99 of a histogram over every process."""
    grouping = f"{by}, le" if by else "le"
    extra = f", {matchers}" if matchers else ""
    return [
        query(
            f"histogram_quantile({q}, sum by ({grouping}) "
            f"(rate({histogram}_bucket{{{SEL}{extra}}}[{RATE}])))",
            f"p{round(q * 100)}{legend}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def query(expr: str, legend: str = "__auto", *, instant: bool = False) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)
    return target.instant() if instant else target.range()


def graph(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    width: int = 12,
    stacked: bool = False,
) -> timeseries.Panel:
    """A time series panel, 8 rows high; ``stacked`` for parts of a whole (outcomes, reasons)."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .targets(_lettered(targets))
        .height(8)
        .span(width)
        .min(0)
        .fill_opacity(25 if stacked else 10)
        .legend(_LEGEND)
    )
    if stacked:
        panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def breakdown(
    title: str, description: str, unit: str, counter: str, by: str, *, width: int = 8
) -> timeseries.Panel:
    """A counter's per-second rate split by one label, stacked (parts of a whole)."""
    legend = "{{" + by + "}}"
    return graph(
        title, description, unit, [query(rate(counter, by), legend)], width=width, stacked=True
    )


def _lettered(targets: Sequence[prometheus.Dataquery]) -> list[Builder[variants.Dataquery]]:
    return [target.ref_id(chr(ord("A") + index)) for index, target in enumerate(targets)]


def single(
    title: str,
    description: str,
    unit: str,
    expr: str,
    *,
    width: int = 4,
    thresholds: Sequence[tuple[float, str]] = (),
    mappings: dict[str, tuple[str, str]] | None = None,
) -> stat.Panel:
    """A stat panel of one instant value; ``thresholds`` are (from value, colour) above green."""
    steps = [Threshold(None, "green"), *(Threshold(value, color) for value, color in thresholds)]
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(query(expr, instant=True).ref_id("A"))
        .height(4)
        .span(width)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
    )
    if mappings:
        panel.mappings([_value_map(mappings)])
    return panel


def _value_map(mappings: dict[str, tuple[str, str]]) -> ValueMapping:
    options = {
        value: ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(mappings.items())
    }
    return ValueMap(options=options)


def variables() -> list[dash.DatasourceVariable | dash.QueryVariable]:
    """$datasource, then $namespace and $release read from the zapq series it holds."""
    namespace = (
        dash.QueryVariable("namespace")
        .label("Namespace")
        .description("Kubernetes namespace zapq runs in.")
        .datasource(DATASOURCE)
        .query(f"label_values({_ANCHOR}, namespace)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    release = (
        dash.QueryVariable("release")
        .label("Release")
        .description("The chart's full name (the Helm release): the prefix of zapq's pod names.")
        .datasource(DATASOURCE)
        .query(f'label_values({_ANCHOR}{{namespace=~"$namespace"}}, pod)')
        .regex("/^(.+)-(?:api|worker)-[a-z0-9]+-[a-z0-9]+$/")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    datasource = (
        dash.DatasourceVariable("datasource")
        .label("Data source")
        .description("The Prometheus that scrapes zapq.")
        .type("prometheus")
    )
    return [datasource, namespace, release]


def sender_variable() -> dash.QueryVariable:
    """$sender: every sender of the pool, read from a gauge each api and worker process exports
    for each sender of the registry (so a deleted sender leaves the list). All by default: a row
    repeated over it shows every sender."""
    return (
        dash.QueryVariable("sender")
        .label("Sender")
        .description("Senders of the pool (WhatsApp numbers): one row each.")
        .datasource(DATASOURCE)
        .query(f"label_values(zapq_sender_rate_limit_per_second{{{SEL}}}, sender)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


Section = tuple[str | dash.Row, Sequence[PanelBuilder]]


def dashboard(
    uid: str,
    title: str,
    description: str,
    sections: Sequence[Section],
    *,
    extra_variables: Sequence[dash.QueryVariable] = (),
) -> dash.Dashboard:
    """A dashboard of rows, each (title or row, panels), laid out left to right, top to bottom;
    ``extra_variables`` follow $datasource, $namespace and $release."""
    board = (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["zapq", "generated"])
        .editable()
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .variables([*variables(), *extra_variables])
        .link(
            dash.DashboardLink("zapq")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["zapq"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for row, panels in sections:
        board.with_row(dash.Row(row) if isinstance(row, str) else row)
        for panel in panels:
            board.with_panel(panel)
    return board
