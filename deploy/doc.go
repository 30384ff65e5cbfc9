// Package deploy holds no code. Its tests check, without a Docker engine,
// the files that run the bridge outside Go: the Dockerfile and
// .dockerignore, docker-compose.yml with its Mosquitto configuration,
// config.example.env, and the Home Assistant add-on's image.
package deploy
