import { describe, expect, it } from 'vitest';
import { extractSnippets, importsOf, parseDirective } from './extract.js';

describe('extractSnippets', () => {
  it('returns each fenced block with its language, first line and the directive above it', () => {
    const md = [
      '# Title', // 1
      '', // 2
      '<!-- snippet: name=one file=a.mjs -->', // 3
      '', // 4
      '```TS', // 5
      "const a = '```';", // 6
      '```', // 7
      'text', // 8
      '```sh', // 9
      'node app.js', // 10
      '```', // 11
    ].join('\n');
    const [one, two, ...rest] = extractSnippets('x.md', md);
    expect(rest).toEqual([]);
    expect(one).toEqual({
      doc: 'x.md',
      line: 5,
      lang: 'ts',
      code: "const a = '```';\n",
      directive: { name: 'one', file: 'a.mjs' },
    });
    // A directive applies only to the block right after it.
    expect(two).toEqual({
      doc: 'x.md',
      line: 9,
      lang: 'sh',
      code: 'node app.js\n',
      directive: {},
    });
  });

  it('strips the indentation of a block inside a list item, and reads a block with no language', () => {
    const md = '- item:\n\n  ```\n  out: 1\n    nested\n  ```\n';
    expect(extractSnippets('x.md', md)).toEqual([
      { doc: 'x.md', line: 3, lang: '', code: 'out: 1\n  nested\n', directive: {} },
    ]);
  });

  it('keeps a block that is never closed (to the end of the file)', () => {
    expect(extractSnippets('x.md', '```js\nf();\n')[0]?.code).toBe('f();\n\n');
  });
});

describe('parseDirective', () => {
  it('reads bare keys, plain values and quoted values with spaces', () => {
    expect(parseDirective(' name=a skip="output, not code" globals ')).toEqual({
      name: 'a',
      skip: 'output, not code',
      globals: 'true',
    });
  });
});

describe('importsOf', () => {
  it('lists static, type-only and dynamic imports with the names imported', () => {
    const code = [
      "import { createSpanLedger, type SpanLedger, RedisLedger as R } from 'spanledger';",
      "import type { BudgetEvent } from 'spanledger';",
      "import OpenAI from 'openai';",
      "const { startSpanLedger } = await import('spanledger/node');",
    ].join('\n');
    expect(importsOf(code)).toEqual([
      {
        from: 'spanledger',
        names: ['createSpanLedger', 'SpanLedger', 'RedisLedger'],
        typeOnly: false,
      },
      { from: 'spanledger', names: ['BudgetEvent'], typeOnly: true },
      { from: 'openai', names: [], typeOnly: false },
      { from: 'spanledger/node', names: [], typeOnly: false },
    ]);
  });
});
