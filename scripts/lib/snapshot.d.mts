export declare const SNAPSHOT_ENTRY: string;
export declare const SNAPSHOT_BLOB: string;
export declare const SNAPSHOT_MADE_BY: string;
export declare function nodeIdentity(node?: string): { version: string; platform: string; arch: string };
export declare function buildSnapshot(dir: string, node?: string): string;
export declare function serverArgs(server: string, node?: string): string[];
