// The container tests share one Docker engine and the machine's two cores: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
