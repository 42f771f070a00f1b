"""What a bf16 program holds: the weights' dtypes, the working copies and who
writes them (precision.test). Usage: EVAL TRAIN TRAIN_RECOMPUTE_WEIGHTS"""
import json
import sys

ev, tr, rc = (json.load(open(p)) for p in sys.argv[1:4])
print('eval weights', sorted({w['dtype'] for w in ev['weights']}), 'precision', ev['compiled_with']['precision'])


def summary(program):
    weights = program['weights']
    masters = [w for w in weights if not w['name'].startswith(('work:', 'adam.', 'shear.', 'grad:')) and not w.get('frozen')]
    copies = [w for w in weights if w['name'].startswith('work:')]
    # Every copy is a master's, of its shape.
    shapes = {w['name']: w['shape'] for w in masters}
    assert all(shapes[w['name'][5:]] == w['shape'] for w in copies)
    step = next(f for f in program['functions'] if f['name'] == 'train_step')
    names = {}
    for i in step['body']:
        if 'weight' in i:
            names[i['results'][0]] = weights[i['weight']]['name']
    writing = 0
    for i in step['body']:
        if i.get('kernel') == 'adamw' and len(i['operands']) > 7 and i['operands'][7] is not None:
            # The copy is the parameter's own.
            assert names[i['operands'][7]] == 'work:' + names[i['operands'][0]], i
            writing += 1
    casts = sum(i.get('kernel') == 'cast' for i in step['body'])
    # The evaluation between steps: which weights it reads, how many casts.
    ev = next(f for f in program['functions'] if f['name'] == 'eval_loss')
    read = [weights[i['weight']]['name'] for i in ev['body'] if 'weight' in i]
    ev_copies = sum(n.startswith('work:') for n in read)
    ev_masters = sum(n in shapes for n in read)
    ev_casts = sum(i.get('kernel') == 'cast' for i in ev['body'])
    kinds = lambda ws: ','.join(sorted({w['dtype'] for w in ws})) or '-'
    return (f"masters {kinds(masters)} {len(masters)}, working copies {kinds(copies)} {len(copies)}, "
            f"adamw writing one {writing}, casts {casts}; eval_loss reads masters {ev_masters}, "
            f"working copies {ev_copies}, casts {ev_casts}")


print('train:', summary(tr))
print('recompute weights:', summary(rc))
