// Types for compile-schema.mjs, for the unit test that imports it.
export declare const SCHEMA_FILE: string;
export declare const OUTPUT_FILE: string;
export declare function generateValidatorSource(): string;
