// JSON-RPC 2.0 over a unix socket, one JSON object per line: the envelope. The methods, with
// their params and results, are the agent contract's (shared/api/agent-contract.ts).
import { agentNodeLayout } from '../../shared/api/agent-contract.ts';

export const DEFAULT_CONTROL_DIR = agentNodeLayout.run;

export interface RpcRequest {
  jsonrpc: '2.0';
  id: number;
  method: string;
  params?: unknown;
}

export interface RpcErrorObject {
  code: number;
  message: string;
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: number | null; result: unknown }
  | { jsonrpc: '2.0'; id: number | null; error: RpcErrorObject };

export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

export type RpcHandler = (params: unknown) => unknown;
