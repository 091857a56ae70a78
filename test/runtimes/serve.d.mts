import type { IncomingMessage, ServerResponse } from "node:http";
export declare function startServer(options?: {
  root?: string;
  port?: number;
  headers?: Record<string, string>;
  nodeModules?: boolean;
  handle?: (request: IncomingMessage, response: ServerResponse, pathname: string) => boolean | Promise<boolean>;
}): Promise<{ url: string; close(): Promise<void> }>;
