/**
 * The first statement of a transaction whose reads must agree with each other (a molecule's
 * event, latest result and runs; a funnel's sealed segments and raw events): one snapshot,
 * read only.
 */
export const readSnapshot = 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY';
