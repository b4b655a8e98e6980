// Anything thrown inside a batch, in the closed error vocabulary (or left to be masked).
import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { AppError, conflict, routerRejected, routerUnavailable } from '../domain/errors.js';
import { RouterError, RouterErrorKind } from '../vyos/types.js';

const CONSTRAINT_MESSAGES: [RegExp, string, string][] = [
  [/vm_name_unique/, 'name', 'a VM with this name already exists'],
  [/vm_internal_ip_unique/, 'internalIp', 'this internal IP is already used by another VM'],
  [/vm_idempotency_key_unique/, 'idempotencyKey', 'this idempotency key was already used'],
  [/port_rule_(tcp|udp)_port_unique/, 'externalPort', 'this external port is already forwarded for that protocol'],
  [/port_rule_rule_number_unique/, 'ruleNumber', 'this rule number is already used'],
];

/** Maps anything thrown inside a batch to the closed error vocabulary (or leaves it to be masked). */
export function toClientError(e: unknown): Error {
  if (e instanceof AppError) return e;
  if (e instanceof UniqueConstraintViolationException) {
    const hit = CONSTRAINT_MESSAGES.find(([re]) => re.test(e.message));
    return hit ? conflict(`${hit[1]}: ${hit[2]}`, { field: hit[1] }) : conflict('a value that must be unique is already taken');
  }
  if (e instanceof RouterError) {
    if (e.kind === RouterErrorKind.REJECTED) return routerRejected(e.details.routerMessage ?? e.message);
    if (e.kind === RouterErrorKind.UNAUTHORIZED) return routerUnavailable('the router refused our API key (HTTP 401)');
    return routerUnavailable(e.message);
  }
  return e instanceof Error ? e : new Error(String(e));
}
