// Tic-tac-toe: moves {player: "X"|"O", cell: 0-8} (or {row, col}) become the board, whose turn it
// is and the winner; illegal moves are rejected in the state, not thrown. {type:"reset"} starts over.
import { z } from 'zod';
import { type Recipe } from './recipe.ts';
import { Slug } from '../../schemas/vocabulary.ts';

const Params = z.object({ stream: Slug.default('tic-tac-toe') });

const initialState = { board: [null, null, null, null, null, null, null, null, null], turn: 'X', winner: null, draw: false, moves: 0, rejected: [] };

export const ticTacToe: Recipe<typeof Params> = {
  name: 'tic-tac-toe',
  title: 'Tic-tac-toe',
  description: 'POST {"player":"X","cell":4} (cells 0-8, or "row"/"col" 0-2). State: board, turn, winner, draw; illegal moves are listed in `rejected` with the reason.',
  params: Params,
  build(p) {
    const code = `(state, event, index) => {
  const LINES = [[0,1,2],[3,4,5],[6,7,8],[0,3,6],[1,4,7],[2,5,8],[0,4,8],[2,4,6]];
  const reject = (reason) => {
    state.rejected.push({ index, reason });
    if (state.rejected.length > 20) state.rejected.shift();
    return state;
  };
  if (event === null || typeof event !== 'object') return reject('a move is an object {player, cell}');
  if (event.type === 'reset') return ${JSON.stringify(initialState)};
  if (state.winner || state.draw) return reject('the game is over; send {"type":"reset"} to play again');
  if (event.player !== 'X' && event.player !== 'O') return reject('player must be "X" or "O"');
  if (event.player !== state.turn) return reject('it is ' + state.turn + "'s turn");
  const cell = Number.isInteger(event.cell) ? event.cell : (Number.isInteger(event.row) && Number.isInteger(event.col) && event.row >= 0 && event.row < 3 && event.col >= 0 && event.col < 3 ? event.row * 3 + event.col : -1);
  if (cell < 0 || cell > 8) return reject('cell must be 0-8 (or row and col 0-2)');
  if (state.board[cell] !== null) return reject('cell ' + cell + ' is taken');
  state.board[cell] = event.player;
  state.moves += 1;
  if (LINES.some((l) => l.every((c) => state.board[c] === event.player))) state.winner = event.player;
  else if (state.moves === 9) state.draw = true;
  state.turn = event.player === 'X' ? 'O' : 'X';
  return state;
}`;
    return { streams: [{ slug: p.stream, name: 'Tic-tac-toe' }], reducers: [{ stream: p.stream, name: 'board', code, initialState }] };
  },
};
