export declare const ROOT: string;
export declare function functionModule(fn: string): string;
export declare function checkExports(file: string, fn?: string): Promise<string[]>;
export declare function bundle(options: { file: string; outdir: string }): Promise<Map<string, Set<string>>>;
