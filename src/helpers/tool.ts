/** `traceTool`: a tool or MCP call as an OTel GenAI `execute_tool` span (category `tool`). */
import { SpanKind } from '@opentelemetry/api';
import * as A from '../semconv.js';
import { COST_CHECKS, type CostOptions, costAttributes } from './cost.js';
import { type HelperOptions, spanHelper, text } from './run.js';

/** Options of {@link traceTool}. */
export interface ToolOptions extends HelperOptions, CostOptions {
  /** The model's id for this tool call (`gen_ai.tool.call.id`). */
  toolCallId?: string;
  /** The MCP server the tool belongs to (`mcp.server.name`): tool rules can match it. */
  mcpServer?: string;
}

/**
 * `traceTool(toolName, options, fn)`: run `fn` as a tool call, span `execute_tool {toolName}`
 * with `gen_ai.operation.name` = `execute_tool` and `gen_ai.tool.name`, active while `fn` runs
 * (model calls inside it count as `tool`). Priced by a tool rule of the prices file, or by
 * `costUsd`. Returns what `fn` returns; errors are recorded on the span and rethrown.
 */
export const traceTool = spanHelper<ToolOptions>(
  'traceTool',
  'toolName',
  { ...COST_CHECKS, toolCallId: text, mcpServer: text },
  (toolName, o) => ({
    name: `execute_tool ${toolName}`,
    kind: SpanKind.INTERNAL,
    attributes: {
      [A.ATTR_GEN_AI_OPERATION_NAME]: 'execute_tool',
      [A.ATTR_GEN_AI_TOOL_NAME]: toolName,
      ...(o.toolCallId !== undefined ? { [A.ATTR_GEN_AI_TOOL_CALL_ID]: o.toolCallId } : {}),
      ...(o.mcpServer !== undefined ? { [A.ATTR_MCP_SERVER_NAME]: o.mcpServer } : {}),
      ...costAttributes(o),
    },
  }),
);
