// The database half of a drift check, kept between checks while the router's rules generation
// stands still (migration 20261203114500: statement triggers move it with every committed change
// to the router's vm and port_rule rows, by any writer). At 30,000 rules the read and its mapping
// cost more than the rest of a syncReport after the router's reply (issue 16).
import type { EntityManager } from '@mikro-orm/postgresql';
import { expectedRules, type RuleSettings } from '../changes/change-store.js';
import type { ExpectedRule } from './drift-diff.js';

export class ExpectedRulesCache {
  private kept: { generation: string; settings: RuleSettings; rules: readonly ExpectedRule[] } | null = null;

  /**
   * The expected rules as `em` would read them now. The generation is read first: a change that
   * commits between the two reads is then in the rules but not in the generation kept with them,
   * so the next check reads again (never the other way round: rules older than their generation).
   */
  async read(em: EntityManager, settings: RuleSettings): Promise<readonly ExpectedRule[]> {
    const [row] = await em.execute<{ rules_generation: string }[]>('select rules_generation from router where name = ?', [settings.routerName]);
    const generation = row ? String(row.rules_generation) : null;
    // The settings shape every expected rule (interface, hairpin): another object, another read.
    if (generation !== null && this.kept?.generation === generation && this.kept.settings === settings) return this.kept.rules;
    const rules = await expectedRules(em, settings);
    this.kept = generation === null ? null : { generation, settings, rules };
    return rules;
  }
}
