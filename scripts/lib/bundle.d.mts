export declare const ROOT: string;
export declare function functionModule(fn: string): string;
export declare function checkExports(file: string, fn?: string): Promise<string[]>;
export declare function bundle(options: { file: string; outdir: string }): Promise<Map<string, Set<string>>>;
export declare function bundleSnapshotEntry(options: { file: string; outfile: string; instrumented?: Map<string, Set<string>> }): Promise<void>;
