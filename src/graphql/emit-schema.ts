// `npm run schema`: writes schema.graphql from the code (CI fails when the file is stale).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { createAppPubSub } from '../changes/events.js';
import { projectRoot } from '../database/orm.js';
import { createSchema } from './schema.js';

export const SCHEMA_FILE = path.join(projectRoot, 'schema.graphql');

export async function renderSchema(): Promise<string> {
  const schema = await createSchema(createAppPubSub());
  return `# Generated from the code by \`npm run schema\`; do not edit.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}

if (require.main === module) {
  renderSchema().then(
    (text) => {
      writeFileSync(SCHEMA_FILE, text);
      console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE) || SCHEMA_FILE}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
