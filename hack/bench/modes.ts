/**
 * The modes of sluice-bench (main.ts), in the order `--help` lists them, each with what it
 * measures. docs/performance.md names the same list; modes.test.ts keeps the two in sync.
 */
export const MODES: readonly (readonly [name: string, what: string])[] = [
  ['overhead', 'latency Sluice adds over calling the engine directly, and max throughput of both'],
  ['external', 'the same for an ExternalModelProvider target: direct HTTPS + API key vs through Sluice (vs a plain pod)'],
  ['scheduling', 'scheduler configurations compared on 3 simulated vLLM pods (the seed\'s Kthena benchmark)'],
  ['scheduler-micro', 'time per scheduling decision, 100 endpoints, 32k-character prompts'],
  ['precise-micro', 'router CPU per request for precise (tokenize + KV-event index) vs approximate prefix scoring, 32k-token prompts'],
  ['fairness', 'one heavy and five light users at 3× capacity: fairness queue vs FIFO (Jain\'s index)'],
  ['ratelimit-cost', 'latency a token rate limit adds: no limit vs local vs global (real redis-server)'],
  ['pd', '2 prefill + 2 decode pods (nixl) vs 4 aggregated pods, long prompts: TTFT and inter-token latency'],
  ['lora', '16 LoRA adapters, 4 pods × 4 slots, Zipf popularity: lora-affinity vs least-request (TTFT, adapter loads)'],
];
