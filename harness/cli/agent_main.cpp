// nslab-agent: the agent as a program of its own, small so that the lab's exec is cheap, and
// startable by external launchers (unshare(1), bwrap, a student's mini-container).
#include "agent/agent.hpp"

int main(int argc, char** argv) { return nslab::agent::agent_main(argc, argv); }
