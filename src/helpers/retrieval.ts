/** `traceRetrieval`: a vector-database or search query as an OTel GenAI `retrieval` span. */
import { SpanKind } from '@opentelemetry/api';
import * as A from '../semconv.js';
import { COST_CHECKS, costAttributes } from './cost.js';
import { type HelperOptions, spanHelper, text } from './run.js';

/** Options of {@link traceRetrieval}. */
export interface RetrievalOptions extends HelperOptions {
  /** The database system (`db.system.name`, e.g. `pinecone`): retrieval rules can match it. */
  dbSystem?: string;
  /** Units of work for a `perUnitUsd` retrieval rule (queries, read units). A `perQueryUsd`
   * rule prices the span as one query. */
  quantity?: number;
}

/**
 * `traceRetrieval(dataSource, options, fn)`: run `fn` as a retrieval, span
 * `retrieval {dataSource}` with `gen_ai.operation.name` = `retrieval` and
 * `gen_ai.data_source.id`, active while `fn` runs (a query embedding made inside it counts as
 * `retrieval`). Priced by a retrieval rule of the prices file. Returns what `fn` returns; errors
 * are recorded on the span and rethrown.
 */
export const traceRetrieval = spanHelper<RetrievalOptions>(
  'traceRetrieval',
  'dataSource',
  { dbSystem: text, quantity: COST_CHECKS.quantity },
  (dataSource, o) => ({
    name: `retrieval ${dataSource}`,
    kind: SpanKind.CLIENT,
    attributes: {
      [A.ATTR_GEN_AI_OPERATION_NAME]: 'retrieval',
      [A.ATTR_GEN_AI_DATA_SOURCE_ID]: dataSource,
      ...(o.dbSystem !== undefined ? { [A.ATTR_DB_SYSTEM_NAME]: o.dbSystem } : {}),
      ...costAttributes(o),
    },
  }),
);
