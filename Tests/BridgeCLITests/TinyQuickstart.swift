// `bridge run pipelines/quickstart.yaml` made tiny for the CLI suites that run it whole (a moment
// a step in a debug build): the built-in base by its absolute path, level-1 problems, two prompts
// × two responses of at most 6 tokens, an eval every 2 steps.

/// The arguments of `bridge run QUICKSTART --run RUN` with the tiny settings, then `extra`
/// overrides, then `steps`.
func tinyQuickstartRun(_ run: String, steps: Int, _ extra: [String] = []) -> [String] {
    ["run", fixtureRoot + "/../pipelines/quickstart.yaml", "--run", run] + ([
        "model={hf: \(fixtureRoot)/../pipelines/models/arith-base}",
        "data.sft={source: synthetic, level: 1, count: 16}", "data.rl={source: synthetic, level: 1, count: 16}",
        "data.eval=[{name: held-out, source: synthetic, level: 1, count: 4, split: test}]",
        "rl.prompts_per_step=2", "rl.num_generations=2", "rl.max_completion_length=6", "train.sft_batch_size=2",
        "evaluation.max_new_tokens=6", "schedule.eval_every=2",
    ] + extra + ["steps=\(steps)"]).flatMap { ["--set", $0] }
}
