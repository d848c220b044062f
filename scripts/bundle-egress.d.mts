// Types for bundle-egress.mjs, for the unit test that imports it.
export declare const ENTRY_FILE: string;
export declare const OUTPUT_FILE: string;
export declare function generateEgressBundle(): Promise<string>;
