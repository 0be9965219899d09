/**
 * A request that came with `Connection: upgrade` (a WebSocket handshake, or `Upgrade: h2c`
 * from curl --http2): it left Node's HTTP parser, so its answer over HTTP is the last thing on
 * its connection, and a handshake handed to a socket is answered by `ws`, not by Fastify's
 * response. Node's parser marks it, a flag left out of its typings.
 */
import type { IncomingMessage } from "node:http";
import type { FastifyRequest } from "fastify";

export const arrivedAsUpgrade = (request: FastifyRequest): boolean => (request.raw as IncomingMessage & { upgrade?: boolean }).upgrade === true;
