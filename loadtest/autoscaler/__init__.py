"""An emulated Kubernetes HPA: the controller's algorithm ported to pure functions (spec,
replicas, behavior, controller), the chart's autoscaler read as Helm renders it (chart), and a
loop that scales real `zapq worker` processes by it (loop, pods, sampling)."""
