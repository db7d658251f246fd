import type { EngineSnapshot } from './engine';
import type { EngineStats } from './metrics';
import { renderPdMetrics } from './pd-stats';
import { Exposition, type Labels } from './prom';

/**
 * /metrics bodies in the naming of each engine flavour. Names, types, label
 * sets and buckets follow vLLM v1 (vllm/v1/metrics/loggers.py), SGLang
 * (srt/metrics/collector.py) and TGI's router; deviations:
 * - every flavour's engine metrics carry `model_name` (TGI's do not upstream);
 * - vLLM: both the current `vllm:kv_cache_usage_perc` and the pre-0.10
 *   `vllm:gpu_cache_usage_perc`, and both `vllm:inter_token_latency_seconds`
 *   and its older twin `vllm:time_per_output_token_seconds`, are emitted;
 * - a simulator-only `sim_pod_info` gauge carries pod, namespace, PD role and group (empty when
 *   none), and the simulator-only PD counters of pd-stats.ts follow it.
 */

/** Render the pod's metrics in its flavour's naming. */
export function renderMetrics(stats: EngineStats, snap: EngineSnapshot): string {
  const x = new Exposition();
  switch (stats.flavour) {
    case 'vllm':
      renderVllm(x, stats, snap);
      break;
    case 'sglang':
      renderSglang(x, stats, snap);
      break;
    case 'tgi':
      renderTgi(x, stats, snap);
      break;
  }
  x.gauge('sim_pod_info', 'Engine simulator pod identity (value always 1).', [
    [
      {
        pod: snap.pod, namespace: snap.namespace, role: snap.role, group: snap.group ?? '', engine: stats.flavour,
        model_name: snap.modelName,
      },
      1,
    ],
  ]);
  renderPdMetrics(x, stats.pd);
  return x.toString();
}

function renderVllm(x: Exposition, stats: EngineStats, snap: EngineSnapshot): void {
  const l: Labels = { model_name: snap.modelName, engine: '0' };
  const c = stats.counters;
  const h = stats.hist;
  x.gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', [[l, snap.running]]);
  x.gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', [[l, snap.waiting]]);
  x.gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', [[l, snap.kv.usage]]);
  x.gauge(
    'vllm:gpu_cache_usage_perc',
    'GPU KV-cache usage. 1 means 100 percent usage. DEPRECATED: Use vllm:kv_cache_usage_perc instead.',
    [[l, snap.kv.usage]],
  );
  x.counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', [
    [l, c.prefixCacheQueries],
  ]);
  x.counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', [
    [l, c.prefixCacheHits],
  ]);
  x.counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.', [[l, c.preemptions]]);
  x.counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', [[l, c.promptTokens]]);
  x.counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', [[l, c.generationTokens]]);
  x.counter('vllm:request_success_total', 'Count of successfully processed requests.', [
    [{ ...l, finished_reason: 'stop' }, c.finishedStop],
    [{ ...l, finished_reason: 'length' }, c.finishedLength],
    [{ ...l, finished_reason: 'abort' }, c.requestsAborted],
  ]);
  x.histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', [[l, h.promptTokens]]);
  x.histogram('vllm:request_generation_tokens', 'Number of generation tokens processed.', [[l, h.generationTokens]]);
  x.histogram('vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', [[l, h.maxTokens]]);
  x.histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', [[l, h.ttft]]);
  x.histogram('vllm:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', [[l, h.itl]]);
  x.histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', [[l, h.itl]]);
  x.histogram(
    'vllm:request_time_per_output_token_seconds',
    'Histogram of time_per_output_token_seconds per request.',
    [[l, h.tpotRequest]],
  );
  x.histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', [[l, h.e2e]]);
  x.histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', [
    [l, h.queue],
  ]);
  x.histogram('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', [
    [l, h.inference],
  ]);
  x.histogram('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', [
    [l, h.prefill],
  ]);
  x.histogram('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', [
    [l, h.decode],
  ]);
  // Label sets exactly as vLLM: no model_name on these two.
  x.gauge(
    'vllm:lora_requests_info',
    'Running stats on lora requests.',
    [...stats.loraInfo].map(([key, ts]) => [JSON.parse(key) as Labels, ts]),
  );
  x.gauge('vllm:cache_config_info', 'Information of the LLMEngine CacheConfig', [
    [
      {
        block_size: String(snap.kv.blockSize),
        cache_dtype: 'auto',
        enable_prefix_caching: 'True',
        gpu_memory_utilization: '0.9',
        num_cpu_blocks: 'None',
        num_gpu_blocks: String(snap.kv.numGpuBlocks),
        engine: '0',
      },
      1,
    ],
  ]);
}

function renderSglang(x: Exposition, stats: EngineStats, snap: EngineSnapshot): void {
  const l: Labels = { model_name: snap.modelName };
  const c = stats.counters;
  const h = stats.hist;
  const hitRate = c.prefixCacheQueries > 0 ? c.prefixCacheHits / c.prefixCacheQueries : 0;
  x.gauge('sglang:num_running_reqs', 'The number of running requests.', [[l, snap.running]]);
  x.gauge('sglang:num_queue_reqs', 'The number of requests in the waiting queue.', [[l, snap.waiting]]);
  x.gauge('sglang:num_used_tokens', 'The number of used tokens.', [[l, snap.kv.usedBlocks * snap.kv.blockSize]]);
  x.gauge('sglang:token_usage', 'The token usage.', [[l, snap.kv.usage]]);
  x.gauge('sglang:cache_hit_rate', 'The prefix cache hit rate.', [[l, hitRate]]);
  x.gauge('sglang:max_total_num_tokens', 'Maximum total number of tokens in the KV cache pool.', [
    [l, snap.kv.numGpuBlocks * snap.kv.blockSize],
  ]);
  x.counter('sglang:prompt_tokens_total', 'Number of prefill tokens processed.', [[l, c.promptTokens]]);
  x.counter('sglang:generation_tokens_total', 'Number of generation tokens processed.', [[l, c.generationTokens]]);
  x.counter('sglang:cached_tokens_total', 'Number of cached prompt tokens.', [[l, c.prefixCacheHits]]);
  x.counter('sglang:num_requests_total', 'Number of requests processed.', [[l, c.requestsServed]]);
  x.counter('sglang:num_aborted_requests_total', 'Number of requests aborted.', [[l, c.requestsAborted]]);
  x.histogram('sglang:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', [[l, h.ttft]]);
  x.histogram('sglang:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', [[l, h.itl]]);
  x.histogram('sglang:e2e_request_latency_seconds', 'Histogram of End-to-end request latency in seconds', [
    [l, h.e2e],
  ]);
}

function renderTgi(x: Exposition, stats: EngineStats, snap: EngineSnapshot): void {
  const l: Labels = { model_name: snap.modelName };
  const c = stats.counters;
  const h = stats.hist;
  // TGI's metrics crate writes counters without a _total suffix.
  x.counter('tgi_request_count', 'Total number of requests.', [[l, c.requestsReceived]]);
  x.counter('tgi_request_success', 'Number of successful requests.', [[l, c.requestsServed]]);
  x.counter('tgi_request_failure', 'Number of failed requests.', [
    [l, c.requestsRejected + c.faultsInjected + c.requestsAborted],
  ]);
  x.gauge('tgi_queue_size', 'Number of requests waiting in the queue.', [[l, snap.waiting]]);
  x.gauge('tgi_batch_current_size', 'Number of requests in the current batch.', [[l, snap.running]]);
  x.gauge('tgi_batch_current_max_tokens', 'Max tokens the current batch can grow to.', [[l, snap.batchMaxTokens]]);
  x.histogram('tgi_request_duration', 'End-to-end request duration in seconds.', [[l, h.e2e]]);
  x.histogram('tgi_request_queue_duration', 'Time spent in the queue in seconds.', [[l, h.queue]]);
  x.histogram('tgi_request_inference_duration', 'Inference duration in seconds.', [[l, h.inference]]);
  x.histogram('tgi_request_mean_time_per_token_duration', 'Mean time per generated token in seconds.', [
    [l, h.tpotRequest],
  ]);
  x.histogram('tgi_request_input_length', 'Prompt length in tokens.', [[l, h.promptTokens]]);
  x.histogram('tgi_request_generated_tokens', 'Generated tokens per request.', [[l, h.generationTokens]]);
}
