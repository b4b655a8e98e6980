import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Coordinator } from '../changes/coordinator.js';
import type { EventBus } from '../changes/event-bus.js';
import type { AppPubSub } from '../changes/events.js';
import type { Role } from '../domain/entities/index.js';
import type { Logger } from '../observability/logger.js';
import type { ReadLoaders } from './read-model.js';
import type { RouterApi } from '../vyos/types.js';

export interface AuthInfo {
  keyId: string;
  name: string;
  role: Role;
}

/** What the composition root hands to every resolver (one instance per process). */
export interface AppServices {
  config: Config;
  orm: MikroORM;
  router: RouterApi;
  coordinator: Coordinator;
  pubsub: AppPubSub;
  /** cross-replica fan-out of rollback and drift events */
  events: EventBus;
  logger: Logger;
  /** extra services registered by feature modules (drift, health, ...) */
  [name: string]: unknown;
}

export interface GraphQLContext {
  /** this request's (or subscription's) unit of work; never the global EntityManager */
  em: EntityManager;
  auth: AuthInfo | null;
  app: AppServices;
  requestId: string;
  /** per-request batched row loaders for the read side */
  loaders: ReadLoaders;
}
