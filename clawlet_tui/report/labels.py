"""Every human-readable word of a report, in English and Chinese, in one place.

Keys are the stable ids of :mod:`.model` (section keys, metric keys, units) plus a few
words of the page itself.  The Chinese labels follow the seed report (吞吐量, 成功率,
平均延迟, 动态批处理器, 优化前/优化后/提升 ...).  A test checks that both languages
cover the same keys, so adding a metric without its labels fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.errors import ConfigError

LANGS = ("en", "zh")

SECTIONS: dict[str, dict[str, str]] = {
    "en": {
        "summary": "Test results",
        "batcher": "Dynamic batcher",
        "cache": "Multi-level cache",
        "memory": "Memory optimizer",
        "concurrency": "Concurrency controller",
        "pool": "Connection pool",
        "monitor": "Performance monitor",
        "outcomes": "Request outcomes",
        "configuration": "Test configuration",
        "engine_config": "Engine configuration",
        "comparison": "Before and after",
        "components": "Components",
    },
    "zh": {
        "summary": "性能测试结果",
        "batcher": "动态批处理器",
        "cache": "多级缓存系统",
        "memory": "内存优化器",
        "concurrency": "并发控制器",
        "pool": "连接池",
        "monitor": "性能监控器",
        "outcomes": "请求结果",
        "configuration": "测试配置",
        "engine_config": "引擎配置",
        "comparison": "优化前后对比",
        "components": "优化组件",
    },
}

#: ``{}`` in a label is filled with the row's ``arg`` (an error class, a config field)
METRICS: dict[str, dict[str, str]] = {
    "en": {
        # summary and monitor
        "throughput": "Throughput",
        "window_throughput": "Throughput (window)",
        "window": "Window",
        "success_rate": "Success rate",
        "mean_latency": "Mean latency",
        "p50_latency": "P50 latency",
        "p90_latency": "P90 latency",
        "p99_latency": "P99 latency",
        "slo_p99": "P99 objective",
        "slo_met": "P99 objective met",
        "max_latency": "Max latency",
        "window_p50_latency": "P50 latency (window)",
        "window_p99_latency": "P99 latency (window)",
        "uptime": "Engine uptime",
        "batches": "Batches",
        "mean_batch_size": "Mean batch size",
        "cache_size": "Cache size (L1)",
        "memory_rss": "Memory (RSS)",
        "memory_usage": "Memory usage (of budget)",
        "system_memory": "System memory used",
        # batcher
        "batching_enabled": "Batching enabled",
        "batch_size_limit": "Batch size limit",
        "batch_timeout": "Batch timeout",
        "batched_requests": "Requests in batches",
        "size_histogram": "Batch sizes (size x count)",
        "queue_wait_p50": "Queue wait P50",
        "queue_wait_p99": "Queue wait P99",
        "compute_mean": "Compute time per batch (mean)",
        "compute_p50": "Compute time per batch P50",
        "compute_p99": "Compute time per batch P99",
        "batch_splits": "Batches split after a failure",
        "batch_policy": "Batch policy",
        "dispatch_full": "Batches sent full",
        "dispatch_worker_free": "Batches sent at once (a worker was free)",
        "dispatch_wait_expired": "Batches sent when the wait ran out",
        "dispatch_predicted_gain": "Batches sent after a wait the cost model chose",
        "dispatch_other": "Batches sent: {}",
        "cost_a": "Fitted batch cost a (per batch)",
        "cost_b": "Fitted batch cost b (per item)",
        "cost_samples": "Batches in the cost fit",
        "shed": "Rejected as predicted late (shed)",
        # cache
        "cache_enabled": "Cache enabled",
        "cache_hit_rate": "Cache hit rate",
        "inflight_joins": "In-flight joins",
        "l1_size": "L1 size",
        "l1_capacity": "L1 capacity",
        "l1_hits": "L1 hits",
        "l1_misses": "L1 misses",
        "l1_hit_rate": "L1 hit rate",
        "l1_evictions": "L1 evictions",
        "l1_expirations": "L1 expirations",
        "l2_enabled": "L2 disk cache enabled",
        "l2_size": "L2 size",
        "l2_hits": "L2 hits",
        "l2_misses": "L2 misses",
        "l2_hit_rate": "L2 hit rate",
        "l2_volume": "L2 volume on disk",
        "l2_size_limit": "L2 size limit",
        "l2_bypassed": "L2 skipped (reads backed up)",
        "l2_declined": "L2 writes declined (key computed once)",
        "l2_disabled_reason": "L2 switched off because",
        # memory
        "memory_budget": "Memory budget",
        "memory_threshold": "GC threshold",
        "system_memory_total": "System memory",
        "gc_triggers": "GC triggers",
        "manual_gc": "Manual GC runs",
        "memory_freed": "Memory freed",
        "objects_collected": "Objects collected",
        "l1_entries_dropped": "L1 entries dropped",
        # concurrency and pool
        "max_concurrent": "Max concurrent batches",
        "peak_busy": "Peak concurrent batches",
        "busy": "Busy at end",
        "completed_batches": "Completed batches",
        "queue_depth": "Queue depth at end",
        "max_queue_size": "Queue limit",
        "pool_size": "Pool size",
        "pool_in_use": "Sessions in use at end",
        "pool_created": "Sessions created",
        "pool_waits": "Waits for a session",
        "pool_discarded": "Sessions discarded",
        # outcomes
        "submitted": "Submitted",
        "succeeded": "Succeeded",
        "failed": "Failed",
        "rejected": "Rejected",
        "timed_out": "Timed out",
        "cancelled": "Cancelled",
        "in_flight": "In flight at end",
        "errors_by_kind": "Errors: {}",
        "first_error": "First error: {}",
        # configuration
        "preset": "Preset",
        "mode": "Mode",
        "requests": "Requests sent",
        "achieved_rate": "Send rate achieved",
        "dropped_by_generator": "Arrivals dropped by the generator",
        "load_shape": "Load",
        "duration": "Load duration",
        "started_at": "Started",
        "finished_at": "Finished",
        "interrupted": "Interrupted (Ctrl+C or SIGTERM)",
        "in_flight_at_interrupt": "In flight when interrupted",
        "interrupt_signal": "Interrupted by",
        "cpu": "CPU",
        "cores": "Cores",
        "machine_memory": "Memory",
        "python": "Python",
        "numpy": "NumPy",
        "platform": "Platform",
        "model": "Model",
        "config": "{}",
    },
    "zh": {
        "throughput": "吞吐量",
        "window_throughput": "吞吐量（窗口）",
        "window": "统计窗口",
        "success_rate": "成功率",
        "mean_latency": "平均延迟",
        "p50_latency": "P50 延迟",
        "p90_latency": "P90 延迟",
        "p99_latency": "P99 延迟",
        "slo_p99": "P99 延迟目标",
        "slo_met": "达到 P99 目标",
        "max_latency": "最大延迟",
        "window_p50_latency": "P50 延迟（窗口）",
        "window_p99_latency": "P99 延迟（窗口）",
        "uptime": "引擎运行时间",
        "batches": "批处理",
        "mean_batch_size": "平均批大小",
        "cache_size": "缓存大小",
        "memory_rss": "内存使用",
        "memory_usage": "内存使用率（占预算）",
        "system_memory": "系统内存使用率",
        "batching_enabled": "启用批处理",
        "batch_size_limit": "批大小上限",
        "batch_timeout": "批处理超时",
        "batched_requests": "批内请求数",
        "size_histogram": "批大小分布（大小×批数）",
        "queue_wait_p50": "排队等待 P50",
        "queue_wait_p99": "排队等待 P99",
        "compute_mean": "每批计算时间（平均）",
        "compute_p50": "每批计算时间 P50",
        "compute_p99": "每批计算时间 P99",
        "batch_splits": "失败后拆分的批次",
        "batch_policy": "批处理策略",
        "dispatch_full": "满批发出",
        "dispatch_worker_free": "有空闲工作线程即发出",
        "dispatch_wait_expired": "等待超时后发出",
        "dispatch_predicted_gain": "按成本模型等待后发出",
        "dispatch_other": "发出原因：{}",
        "cost_a": "拟合批成本 a（每批）",
        "cost_b": "拟合批成本 b（每项）",
        "cost_samples": "成本拟合所用批数",
        "shed": "预测超时而拒绝",
        "cache_enabled": "启用缓存",
        "cache_hit_rate": "缓存命中率",
        "inflight_joins": "合并的进行中请求",
        "l1_size": "L1 缓存大小",
        "l1_capacity": "L1 容量",
        "l1_hits": "L1 命中",
        "l1_misses": "L1 未命中",
        "l1_hit_rate": "L1 命中率",
        "l1_evictions": "L1 淘汰",
        "l1_expirations": "L1 过期",
        "l2_enabled": "L2 磁盘缓存",
        "l2_size": "L2 缓存大小",
        "l2_hits": "L2 命中",
        "l2_misses": "L2 未命中",
        "l2_hit_rate": "L2 命中率",
        "l2_volume": "L2 磁盘占用",
        "l2_size_limit": "L2 容量上限",
        "l2_bypassed": "跳过 L2（读取积压）",
        "l2_declined": "未写入 L2（键仅计算一次）",
        "l2_disabled_reason": "L2 停用原因",
        "memory_budget": "内存预算",
        "memory_threshold": "GC 触发阈值",
        "system_memory_total": "系统内存",
        "gc_triggers": "GC 触发次数",
        "manual_gc": "手动 GC 次数",
        "memory_freed": "释放内存",
        "objects_collected": "回收对象数",
        "l1_entries_dropped": "清理的 L1 条目",
        "max_concurrent": "最大并发",
        "peak_busy": "峰值并发",
        "busy": "结束时忙碌",
        "completed_batches": "完成任务数",
        "queue_depth": "结束时队列深度",
        "max_queue_size": "队列上限",
        "pool_size": "连接池大小",
        "pool_in_use": "结束时使用中的连接",
        "pool_created": "创建的连接",
        "pool_waits": "等待连接次数",
        "pool_discarded": "丢弃的连接",
        "submitted": "提交",
        "succeeded": "成功",
        "failed": "失败",
        "rejected": "拒绝",
        "timed_out": "超时",
        "cancelled": "取消",
        "in_flight": "结束时处理中",
        "errors_by_kind": "错误：{}",
        "first_error": "首个错误：{}",
        "preset": "预设",
        "mode": "模式",
        "requests": "测试请求数",
        "achieved_rate": "实际发送速率",
        "dropped_by_generator": "负载端丢弃的请求",
        "load_shape": "负载方式",
        "duration": "负载时长",
        "started_at": "开始时间",
        "finished_at": "结束时间",
        "interrupted": "被中断（Ctrl+C 或 SIGTERM）",
        "in_flight_at_interrupt": "中断时处理中的请求",
        "interrupt_signal": "中断信号",
        "cpu": "CPU",
        "cores": "核数",
        "machine_memory": "内存",
        "python": "Python",
        "numpy": "NumPy",
        "platform": "平台",
        "model": "模型",
        "config": "{}",
    },
}

#: units shown after a value; units missing here are not shown (the label says what is counted)
UNITS: dict[str, dict[str, str]] = {
    "en": {"req/s": "req/s", "ms": "ms", "s": "s", "%": "%", "entries": "entries"},
    "zh": {"req/s": "req/s", "ms": "ms", "s": "秒", "%": "%", "entries": "条"},
}

#: words of the page around the tables
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "clawlet-tui report",
        "compare_title": "clawlet-tui comparison",
        "metric": "Metric",
        "value": "Value",
        "field": "Field",
        "before": "Before (baseline)",
        "after": "After (optimized)",
        "change": "Change",
        "yes": "yes",
        "no": "no",
        "none": "none",
        "run": "Run",
        "mode_optimized": "optimized",
        "mode_baseline": "baseline",
        "interrupted_note": "Interrupted with Ctrl+C: {} requests were in flight; figures cover the run up to then.",
        "terminated_note": "Stopped by SIGTERM: {} requests were in flight; figures cover the run up to then.",
        "errors_note": "Requests failed. The first error of each kind:",
        "no_success_note": "No request succeeded. The first error of each kind:",
        "batching": "Batching",
        "skipped_note": "The optimized run did not take place because the baseline run was interrupted.",
        "changed_config": "Configuration differences",
        "key_figures": "Key figures",
    },
    "zh": {
        "title": "小爪系统性能测试报告",
        "compare_title": "小爪系统优化对比报告",
        "metric": "指标",
        "value": "数值",
        "field": "字段",
        "before": "优化前",
        "after": "优化后",
        "change": "提升",
        "yes": "是",
        "no": "否",
        "none": "无",
        "run": "运行",
        "mode_optimized": "优化版",
        "mode_baseline": "优化前",
        "interrupted_note": "运行被 Ctrl+C 中断：中断时有 {} 个请求在处理中；数据截至中断时刻。",
        "terminated_note": "运行被 SIGTERM 终止：终止时有 {} 个请求在处理中；数据截至终止时刻。",
        "errors_note": "有请求失败。每种错误的首条信息：",
        "no_success_note": "没有任何请求成功。每种错误的首条信息：",
        "batching": "批处理",
        "skipped_note": "优化前的运行被中断，优化后的运行未进行。",
        "changed_config": "配置差异",
        "key_figures": "关键数据",
    },
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ConfigError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}", field="lang")
    return lang


@dataclass(frozen=True)
class Labels:
    """The labels of one language."""

    lang: str = "en"

    def __post_init__(self) -> None:
        check_lang(self.lang)

    def section(self, key: str) -> str:
        return SECTIONS[self.lang][key]

    def metric(self, key: str, arg: str | None = None) -> str:
        label = METRICS[self.lang][key]
        return label.format(arg) if "{}" in label else label

    def unit(self, unit: str) -> str:
        return UNITS[self.lang].get(unit, "")

    def text(self, key: str) -> str:
        return TEXT[self.lang][key]

    def mode(self, mode: str) -> str:
        return TEXT[self.lang].get(f"mode_{mode}", mode)
