// Relay's Node interface: every type with a stable id implements it, and `node(id:)` refetches
// any of them by that id alone (the existing UUIDs, unchanged: the lookup searches each table).
import { Field, ID, InterfaceType } from 'type-graphql';

/** Set on an object `node(id:)` returns: which type it is (rows are plain objects, not class instances). */
export const NODE_TYPE = Symbol('nodeType');

@InterfaceType('Node', {
  description: 'An object with a stable id; `node(id:)` fetches it again by that id alone.',
  resolveType: (value: { [NODE_TYPE]?: string }) => value[NODE_TYPE],
})
export abstract class Node {
  @Field(() => ID, { description: 'Stable identifier (a UUID).' })
  id!: string;
}
