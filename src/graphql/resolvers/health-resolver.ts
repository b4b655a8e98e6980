import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { Role } from '../../domain/entities/index.js';
import { Health, checkHealth } from '../../observability/health.js';
import type { GraphQLContext } from '../context.js';

@Resolver()
export class HealthResolver {
  @Authorized(Role.VIEWER)
  @Query(() => Health, { description: 'The same report as GET /health.' })
  async health(@Ctx() { app }: GraphQLContext): Promise<Health> {
    return checkHealth(app.health);
  }
}
