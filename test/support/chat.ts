/**
 * A priced gpt-4o chat span's attributes with its exact cost. No vitest import: workers that
 * tests start as processes use them too.
 */
import type { Attributes } from '@opentelemetry/api';

/** Semconv attributes of an OpenAI gpt-4o chat call (input counts include cached tokens). */
export function gpt4oChat(input: number, cached: number, output: number): Attributes {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': input,
    'gen_ai.usage.cache_read.input_tokens': cached,
    'gen_ai.usage.output_tokens': output,
  };
}

/** gpt-4o's price for those counts: $2.50 uncached input, $1.25 cached, $10 output per MTok. */
export function gpt4oUsd(input: number, cached: number, output: number): number {
  return ((input - cached) * 2.5 + cached * 1.25 + output * 10) / 1e6;
}

/** The reference call: 1200 input of which 1024 cached, 300 output, $0.00472. */
export const CHAT = gpt4oChat(1200, 1024, 300);
export const CHAT_USD = 0.00472;
