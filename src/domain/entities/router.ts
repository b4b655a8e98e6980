import { Entity, Enum, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { registerEnumType } from 'type-graphql';

/** Whether a router takes new VMs (docs/operations.md "A fleet of routers"). */
export enum RouterLifecycle {
  /** takes new VMs and changes */
  ENABLED = 'ENABLED',
  /** keeps serving its VMs, takes no new ones */
  DRAINING = 'DRAINING',
}

registerEnumType(RouterLifecycle, {
  name: 'RouterLifecycle',
  description: 'Whether a router takes new VMs.',
  valuesConfig: {
    ENABLED: { description: 'Takes new VMs and changes.' },
    DRAINING: { description: 'Keeps serving its VMs and their rules; placement gives it no new VMs.' },
  },
});

/**
 * A VyOS router the API drives: where it is, where its key comes from, and the ranges this API
 * allocates on it. Every VM lives on one router; addresses, ports and rule numbers are unique per
 * router. Secrets stay out of the database: `keyRef` names where the key is read from.
 */
@Entity({ tableName: 'router' })
export class Router {
  [PrimaryKeyProp]?: 'name';
  [OptionalProps]?: 'url' | 'keyRef' | 'tlsInsecure' | 'caFile' | 'wanInterface' | 'syntax' | 'commitConfirm' | 'natRuleRange' | 'externalPortRange' | 'lanPool' | 'lifecycle' | 'fromEnv' | 'rulesGeneration' | 'createdAt' | 'updatedAt';

  /** ROUTER_NAME for the router configured by the environment */
  @PrimaryKey({ type: 'text' })
  name!: string;

  /** the VyOS HTTP API's base URL; null: the built-in simulator (a first run) */
  @Property({ type: 'text', nullable: true })
  url?: string | null;

  /** where the API key is read: `env:NAME` or `file:/path` (never the key itself) */
  @Property({ type: 'text', nullable: true })
  keyRef?: string | null;

  @Property({ type: 'boolean', default: false })
  tlsInsecure: boolean = false;

  @Property({ type: 'text', nullable: true })
  caFile?: string | null;

  @Property({ type: 'text', nullable: true })
  wanInterface?: string | null;

  /** VYOS_SYNTAX for this router (`auto`, `1.3`, `1.4`) */
  @Property({ type: 'text', nullable: true })
  syntax?: string | null;

  /** VYOS_COMMIT_CONFIRM for this router (`auto`, `on`, `off`) */
  @Property({ type: 'text', nullable: true })
  commitConfirm?: string | null;

  /** NAT rule numbers this API allocates on the router, `first-last` */
  @Property({ type: 'text', nullable: true })
  natRuleRange?: string | null;

  /** external ports, `first-last` */
  @Property({ type: 'text', nullable: true })
  externalPortRange?: string | null;

  /** LAN addresses handed to VMs, `first-last` */
  @Property({ type: 'text', nullable: true })
  lanPool?: string | null;

  @Enum({ items: () => RouterLifecycle, default: RouterLifecycle.ENABLED })
  lifecycle: RouterLifecycle = RouterLifecycle.ENABLED;

  /** configured by the environment (VYOS_URL, ROUTER_NAME): each start with this ROUTER_NAME updates it */
  @Property({ type: 'boolean', default: false })
  fromEnv: boolean = false;

  /**
   * Moves with every committed change to this router's `vm` and `port_rule` rows, whoever writes
   * them (statement triggers, migration 20261203114500): a drift check reads its database half
   * again only when this moved (issue 16). Never written by the ORM, so never loaded by it.
   */
  @Property({ type: 'bigint', default: 0, lazy: true })
  rulesGeneration?: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
