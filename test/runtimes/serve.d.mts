export declare function startServer(options?: { root?: string; port?: number }): Promise<{ url: string; close(): Promise<void> }>;
