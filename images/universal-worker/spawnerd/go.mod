module workers-spawner/spawnerd

go 1.22
