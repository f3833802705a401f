/**
 * `traceEvaluation` and `recordEvaluationResult`: online evaluations (LLM-as-judge). Model calls
 * made inside an evaluation span are charged to `evaluation`; the result is the OTel GenAI event
 * `gen_ai.evaluation.result`.
 */
import { context, diag, type Span, SpanKind, trace } from '@opentelemetry/api';
import * as A from '../semconv.js';
import { checkOptions, type HelperOptions, spanHelper, text } from './run.js';

/** Options of {@link traceEvaluation}. */
export type EvaluationOptions = HelperOptions;

/**
 * `traceEvaluation(name, options, fn)`: run `fn` as an evaluation, span `evaluation {name}` with
 * `gen_ai.evaluation.name` (category `evaluation`), active while `fn` runs, so the judge's model
 * calls are charged to `evaluation` and counted in the run's `evaluation` total. Returns what
 * `fn` returns; errors are recorded on the span and rethrown.
 */
export const traceEvaluation = spanHelper<EvaluationOptions>(
  'traceEvaluation',
  'name',
  {},
  (name) => ({
    name: `evaluation ${name}`,
    kind: SpanKind.INTERNAL,
    attributes: { [A.ATTR_GEN_AI_EVALUATION_NAME]: name },
  }),
);

/** One evaluation result (the attributes of the `gen_ai.evaluation.result` event). */
export interface EvaluationResult {
  /** The evaluation's name (`gen_ai.evaluation.name`), e.g. `relevance`. */
  name: string;
  /** The score (`gen_ai.evaluation.score.value`). */
  scoreValue?: number;
  /** A low-cardinality label for the score (`gen_ai.evaluation.score.label`), e.g. `pass`. */
  scoreLabel?: string;
  /** Why (`gen_ai.evaluation.explanation`). */
  explanation?: string;
  /** The evaluated completion's `gen_ai.response.id`, to correlate when the event cannot sit on
   * the evaluated span. */
  responseId?: string;
  /** Set when the evaluation itself failed: the error's class (`error.type`), e.g. `timeout`. */
  errorType?: string;
}

/** Options of {@link recordEvaluationResult}. */
export interface EvaluationResultOptions {
  /** The span of the GenAI operation evaluated, where the event belongs while it is still
   * recording. Default, and when it has ended: the active span (e.g. the evaluation span). */
  span?: Span;
}

const RESULT_CHECKS = {
  name: text,
  scoreValue: (v: unknown) =>
    typeof v === 'number' && Number.isFinite(v) ? undefined : 'must be a finite number',
  scoreLabel: text,
  explanation: (v: unknown) => (typeof v === 'string' ? undefined : 'must be a string'),
  responseId: text,
  errorType: text,
};

/**
 * Add the OTel GenAI event `gen_ai.evaluation.result` to the evaluated span (or, when that span
 * has ended or is not given, to the active span). Returns whether a recording span took it.
 * A bad result throws a TypeError; nothing else does.
 */
export function recordEvaluationResult(
  result: EvaluationResult,
  options: EvaluationResultOptions = {},
): boolean {
  checkOptions(
    'recordEvaluationResult',
    result as EvaluationResult & HelperOptions,
    RESULT_CHECKS,
    {},
  );
  if (result?.name === undefined) {
    throw new TypeError('spanledger: recordEvaluationResult: name must be a non-empty string');
  }
  const target = [options.span, trace.getSpan(context.active())].find((s) => s?.isRecording());
  if (target === undefined) {
    diag.debug(`spanledger: evaluation result ${result.name} had no recording span`);
    return false;
  }
  target.addEvent(A.EVENT_GEN_AI_EVALUATION_RESULT, {
    [A.ATTR_GEN_AI_EVALUATION_NAME]: result.name,
    ...(result.scoreValue !== undefined
      ? { [A.ATTR_GEN_AI_EVALUATION_SCORE_VALUE]: result.scoreValue }
      : {}),
    ...(result.scoreLabel !== undefined
      ? { [A.ATTR_GEN_AI_EVALUATION_SCORE_LABEL]: result.scoreLabel }
      : {}),
    ...(result.explanation !== undefined
      ? { [A.ATTR_GEN_AI_EVALUATION_EXPLANATION]: result.explanation }
      : {}),
    ...(result.responseId !== undefined ? { [A.ATTR_GEN_AI_RESPONSE_ID]: result.responseId } : {}),
    ...(result.errorType !== undefined ? { [A.ATTR_ERROR_TYPE]: result.errorType } : {}),
  });
  return true;
}
