// Authorization rows for the `reducer` router: one row per procedure, keyed by its path ('reducer.list').
// Until a procedure of this router has a row here, the matrix test fails and names it.
// Presets (anyMember, adminUp, ownerOnly, personOnly, everyone) and the fixture world are in ./world.ts;
// `input` may create extra fixtures (a reducer, an effect) through `w.db`.
import type { MatrixRows } from './world.ts';

export const reducerRows: MatrixRows = {};
