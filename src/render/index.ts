export { renderText, DATA_EFFECT_TEXT } from './text.js';
export { renderJson, planToJson, planFromJson, PLAN_FORMAT_VERSION, type JsonPlan, type JsonChange } from './json.js';
export { applyEventLine, applySummary } from './apply-text.js';
export { styleFor, plainStyle, colorStyle, type Style } from './style.js';
export { renderMarkdown, MARKDOWN_MAX_CHARS, type MarkdownOptions } from './markdown.js';
