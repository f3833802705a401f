/**
 * Provider and model names as instrumentations write them, mapped to catalog ids.
 * OTel uses dotted provider names (`aws.bedrock`), the Vercel AI SDK writes `openai.chat`,
 * gateways prefix model ids (`openai/gpt-4o`), Bedrock spans may carry ARNs and Google SDKs
 * `models/...`: the catalog knows none of these forms.
 */

/** Built-in provider aliases; user aliases (prices file `providerAliases`) take precedence. */
export const BUILTIN_PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  'az.ai.openai': 'azure',
  'az.ai.inference': 'azure',
  azure_openai: 'azure',
  'azure-openai': 'azure',
  'aws.bedrock': 'aws',
  bedrock: 'aws',
  'amazon-bedrock': 'aws',
  amazon_bedrock: 'aws',
  // Vertex AI is the catalog's `google` provider priced from the Vertex list where it differs
  // from the Gemini API's (docs/pricing.md, "Cloud price lists"); `gcp.gen_ai` says neither
  // and gets the Gemini API list unless the server address says Vertex (src/usage/normalize.ts).
  'gcp.vertex_ai': 'google-vertex',
  'gcp.gemini': 'google',
  'gcp.gen_ai': 'google',
  vertex_ai: 'google-vertex',
  vertexai: 'google-vertex',
  'google.vertex': 'google-vertex',
  'google.generative-ai': 'google',
  google_genai: 'google',
  'google-genai': 'google',
  gemini: 'google',
  x_ai: 'x-ai',
  xai: 'x-ai',
  mistral_ai: 'mistral',
  mistralai: 'mistral',
  together_ai: 'together',
  togetherai: 'together',
  fireworks_ai: 'fireworks',
  'fireworks-ai': 'fireworks',
  moonshot: 'moonshotai',
  zhipu: 'zhipuai',
};

/**
 * Canonical provider id for a raw provider value. Dotted values are shortened from the right
 * until an alias matches (`google.vertex.chat` → `google.vertex` → `google`), so Vercel-style
 * `<provider>.<api>` names resolve; with no alias the first segment is the provider.
 */
export function canonicalProvider(
  raw: string,
  userAliases: Readonly<Record<string, string>>,
): string {
  let name = raw.trim().toLowerCase();
  for (;;) {
    const alias = userAliases[name] ?? BUILTIN_PROVIDER_ALIASES[name];
    if (alias !== undefined) return alias;
    const dot = name.lastIndexOf('.');
    if (dot <= 0) return name;
    name = name.slice(0, dot);
  }
}

const ARN = /^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:inference-profile|foundation-model)\/(.+)$/;

/** Strip forms no catalog knows: Bedrock foundation-model and inference-profile ARNs, `models/`. */
export function normaliseModel(raw: string): string {
  let model = raw.trim();
  const arn = ARN.exec(model);
  if (arn?.[1]) model = arn[1];
  if (model.startsWith('models/')) model = model.slice('models/'.length);
  return model;
}

/** Split `openai/gpt-4o` into a provider prefix and the rest, when there is a prefix. */
export function splitProviderPrefix(model: string): [string, string] | undefined {
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) return undefined;
  return [model.slice(0, slash), model.slice(slash + 1)];
}
